import { EndpointSelector, mayFailOver, notSentCode, parseApiUrls } from './endpoints';

describe('parseApiUrls', () => {
  it('takes one URL or a comma-separated list, primary first, as base URLs', () => {
    const one = parseApiUrls('https://jr.example.com:8080/api?x=1#y');
    expect(one.ok && one.urls.map((u) => u.href)).toEqual(['https://jr.example.com:8080/api/']);
    const list = parseApiUrls(' https://a.example:8080 , http://10.0.0.2:8080/jr ');
    expect(list.ok && list.urls.map((u) => u.href)).toEqual(['https://a.example:8080/', 'http://10.0.0.2:8080/jr/']);
  });

  it('names the bad entry', () => {
    expect(parseApiUrls('https://a.example,ftp://b.example')).toEqual({
      ok: false,
      message: 'entry 2 "ftp://b.example": must be an http(s) URL, e.g. https://127.0.0.1:8080',
    });
    expect(parseApiUrls('https://a.example,,https://c.example')).toMatchObject({
      ok: false,
      message: 'entry 2 "": empty (a stray comma?)',
    });
    expect(parseApiUrls('https://a.example,https://a.example/')).toMatchObject({
      ok: false,
      message: expect.stringContaining('listed twice'),
    });
    expect(parseApiUrls('not a url')).toMatchObject({ ok: false, message: expect.stringMatching(/^must be an http/) });
    // a password in a URL is not repeated
    expect(parseApiUrls('https://a.example,ftp://u:hunter2@b.example')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^entry 2 "ftp:\/\/…@b\.example": /),
    });
    expect(parseApiUrls(Array.from({ length: 17 }, (_, i) => `https://h${i}.example`).join(','))).toMatchObject({
      ok: false,
      message: 'at most 16 URLs (got 17)',
    });
  });
});

describe('EndpointSelector', () => {
  const urls = ['https://a/', 'https://b/', 'https://c/'].map((u) => new URL(u));

  it('starts at the primary and visits the rest in list order', () => {
    expect(new EndpointSelector(urls).round()).toEqual([0, 1, 2]);
  });

  it('starts later rounds at the endpoint that answered last, wrapping around', () => {
    const s = new EndpointSelector(urls);
    s.answered(1);
    expect(s.round()).toEqual([1, 2, 0]);
    s.answered(2);
    expect(s.round()).toEqual([2, 0, 1]);
    expect(s.url(2).href).toBe('https://c/');
  });

  it('needs at least one endpoint', () => {
    expect(() => new EndpointSelector([])).toThrow('no API endpoints');
  });
});

describe('mayFailOver', () => {
  it('sends a request elsewhere when it was never sent, or when repeating it is harmless', () => {
    expect(mayFailOver({ notSent: true }, { idempotent: false })).toBe(true);
    expect(mayFailOver({ notSent: false }, { idempotent: true })).toBe(true);
    // a write that may have been applied (a timeout, a dropped connection) is not repeated elsewhere
    expect(mayFailOver({ notSent: false }, { idempotent: false })).toBe(false);
  });

  it('counts only never-established connections as not sent', () => {
    expect(notSentCode('ECONNREFUSED')).toBe(true);
    expect(notSentCode('ENOTFOUND')).toBe(true);
    expect(notSentCode('ECONNRESET')).toBe(false);
    expect(notSentCode(undefined)).toBe(false);
  });
});
