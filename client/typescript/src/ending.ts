/** `source` passed on unchanged; `onEnd` runs once when it ends: read to its last chunk, broken, or cancelled by the reader. */
export function onEnd<T>(source: ReadableStream<T>, end: () => void): ReadableStream<T> {
  let ended = false;
  const finish = () => {
    if (!ended) {
      ended = true;
      end();
    }
  };
  const reader = source.getReader();
  return new ReadableStream<T>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) {
          controller.close();
          finish();
        } else {
          controller.enqueue(value);
        }
      } catch (error) {
        controller.error(error);
        finish();
      }
    },
    async cancel(reason) {
      await reader.cancel(reason);
      finish();
    },
  });
}
