/** Emitter calls the handlers of typed events; a throwing handler does not stop the others. */
export class Emitter<Events extends { [K in keyof Events]: (arg: never) => void }> {
  private readonly handlers = new Map<keyof Events, Set<Events[keyof Events]>>();

  constructor(private readonly onHandlerError: (err: unknown) => void) {}

  on<K extends keyof Events>(name: K, handler: Events[K]): () => void {
    let set = this.handlers.get(name);
    if (!set) {
      set = new Set();
      this.handlers.set(name, set);
    }
    set.add(handler);
    return () => {
      set.delete(handler);
    };
  }

  emit<K extends keyof Events>(name: K, arg: Parameters<Events[K]>[0]): void {
    const set = this.handlers.get(name);
    if (!set) {
      return;
    }
    for (const handler of [...set]) {
      try {
        (handler as (a: typeof arg) => void)(arg);
      } catch (err) {
        this.onHandlerError(err);
      }
    }
  }
}
