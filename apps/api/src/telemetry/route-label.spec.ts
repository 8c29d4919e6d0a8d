import { methodLabel, routeLabel, UNMATCHED_ROUTE } from './route-label';

describe('routeLabel', () => {
  it('is the matched route pattern, never the raw URL', () => {
    expect(routeLabel({ route: { path: '/v1/jobs/:id' } })).toBe('/v1/jobs/:id');
    expect(routeLabel({ baseUrl: '/v1', route: { path: '/jobs/:id/logs' } })).toBe('/v1/jobs/:id/logs');
    expect(routeLabel({ route: { path: '/v1/jobs/' } })).toBe('/v1/jobs');
    expect(routeLabel({ route: { path: '/' } })).toBe('/');
  });

  it('is `unmatched` for requests no route took (404s, scanners), whatever their URL', () => {
    expect(routeLabel({})).toBe(UNMATCHED_ROUTE);
    expect(routeLabel({ route: null })).toBe(UNMATCHED_ROUTE);
    expect(routeLabel({ route: { path: 42 } })).toBe(UNMATCHED_ROUTE);
    expect(routeLabel({ route: { path: '' } })).toBe(UNMATCHED_ROUTE);
  });
});

describe('methodLabel', () => {
  it('keeps the usual methods and folds the rest', () => {
    expect(methodLabel('get')).toBe('GET');
    expect(methodLabel('POST')).toBe('POST');
    expect(methodLabel('PROPFIND')).toBe('OTHER');
    expect(methodLabel(undefined)).toBe('OTHER');
  });
});
