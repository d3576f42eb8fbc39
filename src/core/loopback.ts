/**
 * Whether a host is this machine's loopback: `localhost`, an IPv4 literal in
 * 127/8 or `::1` (with or without the brackets of a URL's hostname). Only the
 * whole host counts: `127.0.0.1.example.com` is a name that resolves anywhere.
 */
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/i;

export const isLoopbackHost = (host: string): boolean => LOOPBACK.test(host);
