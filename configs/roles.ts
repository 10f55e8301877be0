/** The input of the roles step (postgres-roles.sh reads it on stdin: it holds passwords). */

export interface RoleSpec {
  name: string;
  password: string;
  /** PostgreSQL role options, e.g. `createrole`, `login`. */
  options: string[];
}

/** The superuser's password on the first line, then one `name<TAB>password<TAB>OPTIONS` line per role. */
export function renderRolesInput(superuserPassword: string, roles: RoleSpec[]): string {
  const lines = roles.map((r) => `${r.name}\t${r.password}\t${r.options.join(" ").toUpperCase()}`);
  return `${[superuserPassword, ...lines].join("\n")}\n`;
}
