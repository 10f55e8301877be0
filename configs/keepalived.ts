/**
 * keepalived.conf for the routers' virtual IP: one VRRP instance on every HAProxy host, all in
 * BACKUP state with `nopreempt` (the address stays where it is until its holder fails), unicast
 * between the routers, and a health check that gives the address up when HAProxy stops answering.
 * Blocks are data; `renderKeepalivedConfig` only formats them.
 */
import type { VipSpec } from "../plan";
import { CA_PATH } from "./tls";

export const KEEPALIVED_CONFIG_PATH = "/etc/keepalived/keepalived.conf";
export const VIP_CHECK_PATH = "/etc/keepalived/check-haproxy.sh";
export const VRRP_INSTANCE = "patroni_stack_routers";

interface Block {
  name: string;
  body: (string | Block)[];
}

function format(block: Block, indent = ""): string[] {
  return [
    `${indent}${block.name} {`,
    ...block.body.flatMap((line) =>
      typeof line === "string" ? [`${indent}    ${line}`] : format(line, `${indent}    `),
    ),
    `${indent}}`,
  ];
}

export function keepalivedBlocks(self: string, vip: VipSpec, checkPath = VIP_CHECK_PATH): Block[] {
  const me = vip.routers.find((r) => r.name === self);
  if (!me) throw new Error(`${self} is not one of the routers of the virtual IP`);
  return [
    { name: "global_defs", body: [`router_id ${self}`, "script_user root", "enable_script_security"] },
    {
      name: "vrrp_script check_haproxy",
      body: [`script "${checkPath}"`, "interval 1", "timeout 2", "fall 2", "rise 2"],
    },
    {
      name: `vrrp_instance ${VRRP_INSTANCE}`,
      body: [
        "state BACKUP",
        `interface ${vip.interface}`,
        `virtual_router_id ${vip.routerId}`,
        `priority ${me.priority}`,
        "advert_int 1",
        "nopreempt",
        `unicast_src_ip ${me.address}`,
        { name: "unicast_peer", body: vip.routers.filter((r) => r !== me).map((r) => r.address) },
        { name: "virtual_ipaddress", body: [`${vip.address}/${vip.prefixLength} dev ${vip.interface}`] },
        { name: "track_script", body: ["check_haproxy"] },
      ],
    },
  ];
}

export function renderKeepalivedConfig(self: string, vip: VipSpec): string {
  return [
    "# Managed by patroni-stack: changes are overwritten.",
    ...keepalivedBlocks(self, vip).flatMap((b) => [...format(b), ""]),
  ].join("\n");
}

/**
 * The health check keepalived runs every second: HAProxy's stats page answers on loopback
 * (over TLS, verified against the stack's CA), and each of PgBouncer's pools is listening.
 * A pool is checked by its listening socket (`ss`, from iproute2, which keepalived depends on),
 * not by a login: a pool paused for a switchover holds new logins until it resumes, and a
 * check that waited for one would move the address away in the middle of the switchover.
 */
/** The pools' ports the virtual IP check watches (none without PgBouncer). */
export function poolPorts(plan: { pgbouncer?: { pools: { listenPort: number }[] } }): number[] {
  return (plan.pgbouncer?.pools ?? []).map((p) => p.listenPort);
}

export function renderVipCheck(
  statsPort: number,
  tls = false,
  poolPorts: number[] = [],
  opts: { eitherScheme?: boolean } = {},
): string {
  const url = `${tls ? "https" : "http"}://127.0.0.1:${statsPort}/`;
  const verified = `curl -fsS -m 1 ${tls ? `--cacert ${CA_PATH} ` : ""}-o /dev/null ${url}`;
  // While a running router switches to TLS, its stats page answers in plain text until HAProxy reloads.
  const haproxy =
    tls && opts.eitherScheme
      ? `{ ${verified} || curl -fsS -m 1 -o /dev/null http://127.0.0.1:${statsPort}/; }`
      : verified;
  const pools = poolPorts.map((p) => `ss -Hltn 'sport = :${p}' | grep -q .`);
  return [
    "#!/bin/sh",
    `# Managed by patroni-stack: the virtual IP stays only where HAProxy answers${pools.length ? " and the pools listen" : ""}.`,
    pools.length || opts.eitherScheme ? [haproxy, ...pools].join(" && ") : `exec ${haproxy}`,
    "",
  ].join("\n");
}
