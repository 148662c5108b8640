// Lookups of user-named settings (a preset, a city, a cost table) in plain-object tables. `table[name]` and
// `name in table` also find what every object inherits ('constructor', '__proto__', 'toString'), so a flag like
// `--model constructor` would pass validation and fail later, mid-work; only own properties are settings.

/** The table's own entry for `key`, or undefined. */
export function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
