/** The error a promise that must fail rejects with, of the expected class (the test fails otherwise). */
export async function refusal<E extends Error>(p: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof type)) throw new Error(`expected a ${type.name}, got ${err === null ? 'success' : String(err)}`);
  return err;
}
