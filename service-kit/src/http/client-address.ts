import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';

/**
 * The client a request comes from, for counting its attempts: the X-Forwarded-For entry appended by
 * the outermost of the `hops` proxies in front of this app (each appends the address it was
 * reached from; entries further left are whatever the client sent, so they are never believed).
 * With the strangler proxy alone in front (hops 1) that is the last entry; behind a load balancer,
 * the proxy and an internal load balancer (hops 3) the third from the end. Trust assumption: the app
 * is reachable only through those proxies (it listens behind the proxy or the internal load
 * balancer); anyone reaching it directly could claim any address. A request with fewer entries
 * than `hops` did not come through them all, so its socket's peer is taken.
 *
 * An IPv6 client counts as its /64, the block one subscriber is usually given: counting single
 * addresses would let one machine take a fresh address per attempt.
 */
export function clientAddress(req: IncomingMessage, hops: number): string {
  const header = req.headers['x-forwarded-for'];
  const entries = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const address = hops > 0 && entries.length >= hops ? entries[entries.length - hops]! : (req.socket.remoteAddress ?? 'unknown');
  return addressBucket(address);
}

/** `::ffff:1.2.3.4` → `1.2.3.4`; an IPv6 address → its /64; anything else as given (bounded). */
export function addressBucket(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const bare = address.split('%')[0]!;
  if (!isIPv6(bare)) return address.slice(0, 64);
  const [head = '', tail] = bare.split('::');
  const front = head ? head.split(':') : [];
  const back = tail ? tail.split(':') : [];
  const groups = tail === undefined ? front : [...front, ...Array<string>(Math.max(0, 8 - front.length - back.length)).fill('0'), ...back];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
