import type { Experiment } from '../api/client.ts';

/** The experiment's verdict as a sentence a merchant can act on. */
export function verdictInWords(e: Experiment): { headline: string; tone: 'good' | 'neutral' | 'bad' } {
  switch (e.verdict) {
    case 'winner':
      return { headline: `Variant ${e.winner ?? '?'} wins — send it to everyone.`, tone: 'good' };
    case 'no difference':
      return { headline: 'The variants perform the same — keep whichever you prefer.', tone: 'neutral' };
    case 'keep running':
      return { headline: 'Too early to tell — keep the test running.', tone: 'neutral' };
    case 'invalid: SRM':
      return {
        headline: 'The result cannot be trusted: the audience was not split as configured.',
        tone: 'bad',
      };
    default:
      return { headline: String(e.verdict), tone: 'neutral' };
  }
}
