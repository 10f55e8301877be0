/**
 * A check of systemd calendar events (`OnCalendar=`, systemd.time(7)) for the backup schedule,
 * run before anything is touched. It accepts the forms systemd documents: the shorthands
 * (`daily`, `weekly`, ...) and `[weekdays] [year-month-day] hour:minute[:second]`, each field a
 * value, a list, a range or a repetition. Pure.
 */

const SHORTHANDS = new Set([
  "minutely",
  "hourly",
  "daily",
  "weekly",
  "monthly",
  "yearly",
  "annually",
  "quarterly",
  "semiannually",
]);
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_NAMES = [...DAYS, ...["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]];

/** One numeric field: `*`, `5`, `1,15`, `1..5`, `0/15`, `*\/2`, each value within [min, max]. */
function fieldProblem(text: string, what: string, min: number, max: number): string | undefined {
  for (const part of text.split(",")) {
    const m = /^(\*|\d+)(?:\.\.(\d+))?(?:\/(\d+))?$/.exec(part);
    if (!m) return `'${part}' is not a ${what} (a number, a list a,b, a range a..b or a repetition a/n)`;
    for (const n of [m[1], m[2]].filter((v): v is string => v !== undefined && v !== "*").map(Number)) {
      if (n < min || n > max) return `${what} ${n} is outside ${min}..${max}`;
    }
    if (m[3] !== undefined && Number(m[3]) === 0) return `a repetition of 0 in '${part}'`;
  }
  return undefined;
}

function weekdaysProblem(text: string): string | undefined {
  for (const part of text.split(",")) {
    const names = part.split("..");
    if (names.length > 2 || names.some((n) => !DAY_NAMES.includes(n.toLowerCase()))) {
      return `'${part}' is not a weekday or a range of weekdays (Mon..Sun)`;
    }
  }
  return undefined;
}

function dateProblem(text: string): string | undefined {
  const parts = text.split("-");
  if (parts.length !== 3) return `'${text}' is not a date (year-month-day, each may be *)`;
  return (
    fieldProblem(parts[0], "year", 1970, 2199) ??
    fieldProblem(parts[1], "month", 1, 12) ??
    fieldProblem(parts[2], "day", 1, 31)
  );
}

function timeProblem(text: string): string | undefined {
  const parts = text.split(":");
  if (parts.length < 2 || parts.length > 3) return `'${text}' is not a time (hour:minute[:second])`;
  return (
    fieldProblem(parts[0], "hour", 0, 23) ??
    fieldProblem(parts[1], "minute", 0, 59) ??
    (parts[2] === undefined ? undefined : fieldProblem(parts[2].replace(/\.\d+$/, ""), "second", 0, 59))
  );
}

/** Why the expression is not a calendar event systemd accepts, or undefined when it is one. */
export function calendarProblem(expression: string): string | undefined {
  const words = expression.trim().split(/\s+/);
  if (words.length === 1 && SHORTHANDS.has(words[0].toLowerCase())) return undefined;
  const problems: (string | undefined)[] = [];
  let rest = [...words];
  if (rest.length > 0 && /^[A-Za-z]/.test(rest[0])) {
    problems.push(weekdaysProblem(rest[0]));
    rest = rest.slice(1);
  }
  if (rest.length === 2) {
    problems.push(dateProblem(rest[0]), timeProblem(rest[1]));
  } else if (rest.length === 1) {
    problems.push(rest[0].includes(":") ? timeProblem(rest[0]) : dateProblem(rest[0]));
  } else {
    problems.push(`expected [weekdays] [year-month-day] hour:minute[:second], got ${words.length} words`);
  }
  return problems.find((p) => p !== undefined);
}
