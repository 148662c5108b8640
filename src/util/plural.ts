/** `1 epoch`, `2 epochs`: a count with its noun in the right number (regular plurals only). */
export const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;
