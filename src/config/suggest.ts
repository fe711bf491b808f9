/** Edit distance (insertions, deletions, substitutions) between two strings. */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

// Case, `_` and `-` are ignored so camelCase (`maxOpenConnections`) and kebab-case keys
// still find their snake_case counterpart.
function fold(key: string): string {
  return key.toLowerCase().replace(/[_-]/g, '');
}

/**
 * The candidate closest to `input`, when it is close enough to be a plausible typo
 * (within 40% of the longer word, at least 2 edits), else undefined.
 */
export function suggest(input: string, candidates: readonly string[]): string | undefined {
  const folded = fold(input);
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const foldedCandidate = fold(candidate);
    const distance = levenshtein(folded, foldedCandidate);
    const limit = Math.max(2, Math.floor(Math.max(folded.length, foldedCandidate.length) * 0.4));
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}
