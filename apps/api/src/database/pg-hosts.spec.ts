import { parseDatabaseUrl, redactDatabaseUrl } from './pg-hosts';

describe('parseDatabaseUrl', () => {
  it('takes the usual single-host URL as one endpoint', () => {
    expect(parseDatabaseUrl('postgres://jr:pw@127.0.0.1:5433/jobrunner?sslmode=disable')).toEqual([
      { host: '127.0.0.1', port: 5433, url: 'postgres://jr:pw@127.0.0.1:5433/jobrunner?sslmode=disable' },
    ]);
  });

  it("splits libpq's host list into one URL per host, keeping user, database and options", () => {
    expect(parseDatabaseUrl('postgresql://jr@db-a,db-b:5434,[::1]:5435/jr?application_name=x')).toEqual([
      { host: 'db-a', port: 5432, url: 'postgresql://jr@db-a/jr?application_name=x' },
      { host: 'db-b', port: 5434, url: 'postgresql://jr@db-b:5434/jr?application_name=x' },
      { host: '::1', port: 5435, url: 'postgresql://jr@[::1]:5435/jr?application_name=x' },
    ]);
  });

  it('refuses other schemes, empty hosts and bad ports with a clear message', () => {
    expect(() => parseDatabaseUrl('mysql://h/db')).toThrow('scheme postgres://');
    expect(() => parseDatabaseUrl('postgres://a,,b/db')).toThrow('host "" ');
    expect(() => parseDatabaseUrl('postgres://a:99999/db')).toThrow('"a:99999" is not a valid host');
  });

  it('redacts the password', () => {
    expect(redactDatabaseUrl('postgres://jr:s3cret@a,b/db')).toBe('postgres://jr:***@a,b/db');
  });
});
