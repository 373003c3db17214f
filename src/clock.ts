/** Where the shell reads the time; machines never do: time reaches them inside events. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
