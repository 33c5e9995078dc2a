/** Time source passed into domain code so tests can control it. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
