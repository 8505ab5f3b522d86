// The part of jStat this project uses (the package ships no types).
declare module 'jstat' {
  const jstat: {
    jStat: {
      normal: {
        cdf(x: number, mean: number, sd: number): number;
        inv(p: number, mean: number, sd: number): number;
      };
      chisquare: { cdf(x: number, dof: number): number };
      beta: { sample(alpha: number, beta: number): number };
      setRandom(fn: () => number): void;
    };
  };
  export default jstat;
}
