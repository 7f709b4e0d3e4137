import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createLogParser, type LogFormat, logFormats } from '../../src/agent/log-formats.js';

interface Case {
  readonly line: string;
  readonly want: Record<string, string | null> | undefined;
}

// Lines as Apache httpd, rsyslog and RFC 5424 senders write them; `undefined` = the agent skips the line.
const table: Record<LogFormat, readonly Case[]> = {
  COMMONAPACHELOG: [
    {
      line: '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
      want: { host: '127.0.0.1', ident: null, authuser: 'frank', datetime: '10/Oct/2000:13:55:36 -0700', request: 'GET /apache_pb.gif HTTP/1.0', response: '200', bytes: '2326' },
    },
    {
      line: '192.168.1.20 - - [28/Jul/2006:10:27:10 -0300] "GET /cgi-bin/try/ HTTP/1.0" 304 -',
      want: { host: '192.168.1.20', ident: null, authuser: null, datetime: '28/Jul/2006:10:27:10 -0300', request: 'GET /cgi-bin/try/ HTTP/1.0', response: '304', bytes: null },
    },
    {
      // A combined-format line is a common-format line with more after it (the pattern ends in .*).
      line: 'ip-10-0-1-5.ec2.internal - - [01/Mar/2024:08:01:02 +0000] "POST /api/v1/orders?id=7 HTTP/1.1" 201 512 "https://shop.example.com/" "curl/8.4.0"',
      want: { host: 'ip-10-0-1-5.ec2.internal', ident: null, authuser: null, datetime: '01/Mar/2024:08:01:02 +0000', request: 'POST /api/v1/orders?id=7 HTTP/1.1', response: '201', bytes: '512' },
    },
    { line: 'not an access log line', want: undefined },
    { line: '127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" abc 12', want: undefined },
  ],
  COMBINEDAPACHELOG: [
    {
      line: '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
      want: {
        host: '127.0.0.1',
        ident: null,
        authuser: 'frank',
        datetime: '10/Oct/2000:13:55:36 -0700',
        request: 'GET /apache_pb.gif HTTP/1.0',
        response: '200',
        bytes: '2326',
        referer: 'http://www.example.com/start.html',
        agent: 'Mozilla/4.08 [en] (Win98; I ;Nav)',
      },
    },
    {
      line: '66.249.66.1 - - [04/Aug/2020:23:58:00 +0000] "GET /robots.txt HTTP/1.1" 404 196 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"',
      want: {
        host: '66.249.66.1',
        ident: null,
        authuser: null,
        datetime: '04/Aug/2020:23:58:00 +0000',
        request: 'GET /robots.txt HTTP/1.1',
        response: '404',
        bytes: '196',
        referer: null,
        agent: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
      },
    },
    // A common-format line lacks referer and agent.
    { line: '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326', want: undefined },
  ],
  APACHEERRORLOG: [
    {
      line: '[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187] File does not exist: /usr/local/apache2/htdocs/favicon.ico',
      want: {
        timestamp: 'Fri Sep 09 10:42:29.902022 2011',
        module: 'core',
        severity: 'error',
        processid: '35708',
        threadid: '4328636416',
        client: '72.15.99.187',
        message: 'File does not exist: /usr/local/apache2/htdocs/favicon.ico',
      },
    },
    {
      line: '[Wed Oct 11 14:32:52.123456 2000] [authz_core:error] [pid 1234] [client 127.0.0.1:51234] AH01630: client denied by server configuration: /export/htdocs/test',
      want: {
        timestamp: 'Wed Oct 11 14:32:52.123456 2000',
        module: 'authz_core',
        severity: 'error',
        processid: '1234',
        threadid: null,
        client: '127.0.0.1:51234',
        message: 'AH01630: client denied by server configuration: /export/htdocs/test',
      },
    },
    {
      line: '[Sun Mar 03 01:02:03 2024] [warn] [pid 77] [client web-1.internal] mod_fcgid: stderr: PHP Warning:  Undefined variable $x',
      want: { timestamp: 'Sun Mar 03 01:02:03 2024', module: null, severity: 'warn', processid: '77', threadid: null, client: 'web-1.internal', message: 'mod_fcgid: stderr: PHP Warning:  Undefined variable $x' },
    },
    // Apache 2.2's layout has no [pid ...]: the agent's pattern does not take it.
    { line: '[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] client denied by server configuration: /export/home/live/ap/htdocs/test', want: undefined },
  ],
  SYSLOG: [
    {
      line: "Mar 12 12:00:08 server2 rcd[308]: Loaded 12 packages in 'ximian-red-carpet|351' (0.01878 seconds)",
      want: { timestamp: 'Mar 12 12:00:08', hostname: 'server2', program: 'rcd', processid: '308', message: "Loaded 12 packages in 'ximian-red-carpet|351' (0.01878 seconds)" },
    },
    {
      line: 'Jan  5 07:15:01 ip-10-0-0-12 CRON: pam_unix(cron:session): session opened for user root by (uid=0)',
      want: { timestamp: 'Jan  5 07:15:01', hostname: 'ip-10-0-0-12', program: 'CRON', processid: null, message: 'pam_unix(cron:session): session opened for user root by (uid=0)' },
    },
    {
      line: 'Oct 11 22:14:15 mail.example.com postfix/smtpd[31499]: connect from unknown[10.0.0.5]',
      want: { timestamp: 'Oct 11 22:14:15', hostname: 'mail.example.com', program: 'postfix/smtpd', processid: '31499', message: 'connect from unknown[10.0.0.5]' },
    },
    {
      // BSD syslogd's "<facility.priority>" before the host, which the agent's pattern allows.
      line: 'Feb 28 23:59:59 <4.6> gw kernel: eth0: link up',
      want: { timestamp: 'Feb 28 23:59:59', hostname: 'gw', program: 'kernel', processid: null, message: 'eth0: link up' },
    },
    { line: '2024-03-01T12:34:56Z web-01 sshd[2211]: Accepted publickey', want: undefined },
  ],
  RFC3164SYSLOG: [
    {
      line: "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
      want: { timestamp: 'Oct 11 22:14:15', hostname: 'mymachine', program: 'su', processid: null, message: "'su root' failed for lonvick on /dev/pts/8" },
    },
    {
      line: 'Aug 24 05:34:00 10.1.2.3 nginx[902]: 2024/08/24 05:34:00 [error] 902#902: *1 open() failed',
      want: { timestamp: 'Aug 24 05:34:00', hostname: '10.1.2.3', program: 'nginx', processid: '902', message: '2024/08/24 05:34:00 [error] 902#902: *1 open() failed' },
    },
    { line: '<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - hello', want: undefined },
  ],
  RFC3339SYSLOG: [
    {
      line: '2024-03-01T12:34:56.789+00:00 web-01 sshd[2211]: Accepted publickey for ec2-user from 10.0.0.1 port 51432 ssh2',
      want: { timestamp: '2024-03-01T12:34:56.789+00:00', hostname: 'web-01', program: 'sshd', processid: '2211', message: 'Accepted publickey for ec2-user from 10.0.0.1 port 51432 ssh2' },
    },
    {
      line: '2024-03-01T12:34:56Z db-1 systemd: Started Session 42 of user postgres.',
      want: { timestamp: '2024-03-01T12:34:56Z', hostname: 'db-1', program: 'systemd', processid: null, message: 'Started Session 42 of user postgres.' },
    },
    { line: 'Mar 12 12:00:08 server2 rcd[308]: Loaded', want: undefined },
  ],
  RFC5424SYSLOG: [
    {
      line: "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \uFEFF'su root' failed for lonvick on /dev/pts/8",
      want: {
        priority: '34',
        version: '1',
        timestamp: '2003-10-11T22:14:15.003Z',
        hostname: 'mymachine.example.com',
        program: 'su',
        processid: null,
        messageid: 'ID47',
        structureddata: null,
        message: "'su root' failed for lonvick on /dev/pts/8",
      },
    },
    {
      line: "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
      want: {
        priority: '165',
        version: '1',
        timestamp: '2003-08-24T05:14:15.000003-07:00',
        hostname: '192.0.2.1',
        program: 'myproc',
        processid: '8710',
        messageid: null,
        structureddata: null,
        message: "%% It's time to make the do-nuts.",
      },
    },
    {
      line: '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry...',
      want: {
        priority: '165',
        version: '1',
        timestamp: '2003-10-11T22:14:15.003Z',
        hostname: 'mymachine.example.com',
        program: 'evntslog',
        processid: null,
        messageid: 'ID47',
        structureddata: '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]',
        message: 'An application event log entry...',
      },
    },
    {
      // Two SD elements, an escaped "]" in a value, and no MSG at all.
      line: '<165>1 2003-10-11T22:14:15.003Z host evntslog - ID47 [exampleSDID@32473 iut="3" note="a\\]b"][examplePriority@32473 class="high"]',
      want: {
        priority: '165',
        version: '1',
        timestamp: '2003-10-11T22:14:15.003Z',
        hostname: 'host',
        program: 'evntslog',
        processid: null,
        messageid: 'ID47',
        structureddata: '[exampleSDID@32473 iut="3" note="a\\]b"][examplePriority@32473 class="high"]',
        message: null,
      },
    },
    { line: "<34>Oct 11 22:14:15 mymachine su: 'su root' failed", want: undefined },
  ],
};

describe('LOGTOJSON formats', () => {
  for (const [format, cases] of Object.entries(table) as [LogFormat, readonly Case[]][]) {
    test(format, () => {
      const p = createLogParser({ logFormat: format });
      assert.deepEqual(p.fields, logFormats[format].fields);
      for (const c of cases) {
        const got = p.parse(c.line);
        assert.deepEqual(got, c.want, c.line);
        // Keys come out in the format's field order, as the agent's LinkedHashMap keeps them.
        if (got !== undefined) assert.deepEqual(Object.keys(got), [...p.fields]);
      }
    });
  }

  test('customFieldNames renames the fields of a format', () => {
    const p = createLogParser({ logFormat: 'SYSLOG', customFieldNames: ['ts', 'host', 'app', 'pid', 'msg'] });
    assert.deepEqual(p.parse('Mar 12 12:00:08 server2 rcd[308]: hi'), { ts: 'Mar 12 12:00:08', host: 'server2', app: 'rcd', pid: '308', msg: 'hi' });
  });

  test('matchPattern with customFieldNames (the agent issue #64 pattern)', () => {
    const p = createLogParser({
      logFormat: 'COMMONAPACHELOG',
      matchPattern: '^([\\d.]+) - - \\[([\\w:/]+).*\\] "(\\w+) /(\\w+).*(\\d.+)" (\\d{3}) (\\d+)',
      customFieldNames: ['client_ip', 'time_stamp', 'verb', 'uri_path', 'http_ver', 'http_status', 'bytes'],
    });
    assert.deepEqual(p.parse('10.0.0.9 - - [01/Mar/2024:08:01:02 +0000] "GET /index.html HTTP/1.1" 200 -'), undefined);
    assert.deepEqual(p.parse('10.0.0.9 - - [01/Mar/2024:08:01:02 +0000] "GET /index.html HTTP/1.1" 200 77'), {
      client_ip: '10.0.0.9',
      time_stamp: '01/Mar/2024:08:01:02',
      verb: 'GET',
      uri_path: 'index',
      http_ver: '1.1',
      http_status: '200',
      bytes: '77',
    });
  });

  test('option mistakes are caught at start, naming the option', () => {
    assert.throws(() => createLogParser({ logFormat: 'SYSLOG', matchPattern: '(.*)' }), /customFieldNames must be specified/);
    assert.throws(() => createLogParser({ logFormat: 'SYSLOG', matchPattern: '(a)(b)', customFieldNames: ['a'] }), /2 capturing groups but customFieldNames names 1/);
    assert.throws(() => createLogParser({ logFormat: 'COMMONAPACHELOG', customFieldNames: ['a', 'b'] }), /COMMONAPACHELOG has 7 fields/);
    assert.throws(() => createLogParser({ logFormat: 'SYSLOG', matchPattern: '([)', customFieldNames: ['a'] }), /matchPattern is not a valid regular expression/);
  });

  test('property: a common log line made of any field values parses back to them', () => {
    const token = fc.stringMatching(/^[a-zA-Z0-9._-]{1,12}$/);
    const host = fc.oneof(fc.ipV4(), fc.domain());
    fc.assert(
      fc.property(
        host,
        fc.option(token, { nil: null }),
        fc.option(token, { nil: null }),
        fc.stringMatching(/^[^"\n\r]{1,40}$/),
        fc.integer({ min: 100, max: 599 }),
        fc.option(fc.nat(), { nil: null }),
        (h, ident, user, request, status, bytes) => {
          const line = `${h} ${ident ?? '-'} ${user ?? '-'} [10/Oct/2000:13:55:36 -0700] "${request}" ${status} ${bytes ?? '-'}`;
          const got = createLogParser({ logFormat: 'COMMONAPACHELOG' }).parse(line);
          assert.deepEqual(got, {
            host: h,
            ident: ident === '-' ? null : ident,
            authuser: user === '-' ? null : user,
            datetime: '10/Oct/2000:13:55:36 -0700',
            request: request === '-' ? null : request,
            response: String(status),
            bytes: bytes === null ? null : String(bytes),
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
