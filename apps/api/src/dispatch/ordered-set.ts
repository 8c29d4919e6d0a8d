interface Node<T> {
  readonly value: T;
  prev: Node<T> | undefined;
  next: Node<T> | undefined;
}

/**
 * A queue of distinct objects in insertion order, with O(1) add at either end and O(1) removal of any
 * member (a doubly linked list indexed by a Map). The matcher's waiter and parked-job queues: with
 * thousands of agents waiting, a withdrawn Lease call must not cost a scan of all the others.
 */
export class OrderedSet<T> implements Iterable<T> {
  private head: Node<T> | undefined;
  private tail: Node<T> | undefined;
  private readonly nodes = new Map<T, Node<T>>();

  get size(): number {
    return this.nodes.size;
  }

  pushBack(value: T): void {
    if (this.nodes.has(value)) return;
    const node: Node<T> = { value, prev: this.tail, next: undefined };
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.nodes.set(value, node);
  }

  pushFront(value: T): void {
    if (this.nodes.has(value)) return;
    const node: Node<T> = { value, prev: undefined, next: this.head };
    if (this.head) this.head.prev = node;
    else this.tail = node;
    this.head = node;
    this.nodes.set(value, node);
  }

  /** Removes `value` if present; returns whether it was. */
  delete(value: T): boolean {
    const node = this.nodes.get(value);
    if (!node) return false;
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    this.nodes.delete(value);
    return true;
  }

  /** Removes and returns the first member (oldest first) that satisfies `predicate`. */
  takeFirst(predicate: (value: T) => boolean): T | undefined {
    for (let node = this.head; node; node = node.next) {
      if (predicate(node.value)) {
        this.delete(node.value);
        return node.value;
      }
    }
    return undefined;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let node = this.head; node; node = node.next) yield node.value;
  }
}
