// Parses numeric command-line options (citty hands them over as strings) with errors that name the flag.

export function intOption(flag: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} must be a whole number of at least ${min}, got '${value}'`);
  return n;
}

export function numberOption(flag: string, value: string | undefined, min: number, maxExclusive: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n >= maxExclusive) {
    throw new Error(`${flag} must be a number in [${min}, ${maxExclusive}), got '${value}'`);
  }
  return n;
}
