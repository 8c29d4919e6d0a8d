import { DEFAULT_API_ENDPOINT, MAX_ENDPOINTS, parseEndpointList } from './endpoint-list';

describe('parseEndpointList (JR_API_GRPC)', () => {
  it('unset or blank: the default endpoint', () => {
    expect(parseEndpointList(undefined)).toEqual({ ok: true, endpoints: [DEFAULT_API_ENDPOINT] });
    expect(parseEndpointList('  ')).toEqual({ ok: true, endpoints: [DEFAULT_API_ENDPOINT] });
  });

  it('one endpoint, as before', () => {
    expect(parseEndpointList('api.internal:7000')).toEqual({ ok: true, endpoints: ['api.internal:7000'] });
  });

  it('a list keeps its order (primary first) and drops the spaces around entries', () => {
    expect(parseEndpointList('api-a:50051, [2001:db8::1]:50051 ,10.1.2.3:50051,dns:///api-c.svc:50051')).toEqual({
      ok: true,
      endpoints: ['api-a:50051', '[2001:db8::1]:50051', '10.1.2.3:50051', 'dns:///api-c.svc:50051'],
    });
  });

  it.each([
    ['api-a:50051,', 'entry 2 "": is empty (a stray comma?)'],
    ['api-a:50051,api-b', 'entry 2 "api-b": must be host:port'],
    ['2001:db8::1:50051', 'entry 1 "2001:db8::1:50051": an IPv6 address goes in brackets'],
    ['[::1]:50051,[nope]:1', 'entry 2 "[nope]:1": [nope] is not an IPv6 address'],
    ['a:0', 'entry 1 "a:0": port 0 is not between 1 and 65535'],
    ['a:1,b:70000', 'entry 2 "b:70000": port 70000 is not between 1 and 65535'],
    ['a b:1', 'entry 1 "a b:1": "a b" is not a host name or IPv4 address'],
    ['1.2.3.999:1', 'entry 1 "1.2.3.999:1": 1.2.3.999 is not an IPv4 address'],
    ['a:1,A:1', 'entry 2 "A:1": listed twice'],
    [':50051', 'entry 1 ":50051": "" is not a host name'],
  ])('refuses %j naming the bad entry', (raw, message) => {
    const r = parseEndpointList(raw);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toContain(message);
  });

  it(`takes at most ${MAX_ENDPOINTS} endpoints`, () => {
    const many = Array.from({ length: MAX_ENDPOINTS + 1 }, (_, i) => `api-${i}:1`).join(',');
    expect(parseEndpointList(many)).toEqual({ ok: false, message: `lists 17 endpoints, at most ${MAX_ENDPOINTS}` });
  });
});
