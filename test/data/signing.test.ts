import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signPath, signUrl, verifySignedPath } from '../../src/data/signing.js';

// Google's published test vectors.
const SECRET = 'vNIXE0xscrmjlyV-12Nj_BvUPaw=';

test("signs Google's published examples", () => {
  const path =
    '/maps/api/directions/json?avoid=ferries&client=testClient&destination=38.8977%2C-77.0365' +
    '&mode=driving&origin=33.8121%2C-117.9190&units=imperial';
  assert.equal(signPath(path, 'testClientSecret'), 'YRJoTd6ohbpsR14WkWv3S7H6MqU=');
  assert.equal(signPath('/maps/api/directions/json', 'testClientSecret'), 'Xen-RmvzSOffHaCik-54z97Fbws=');
  // Uses the URL-safe alphabet (the second vector contains '-'), never '+' or '/'.
  assert.doesNotMatch(signPath('/maps/api/streetview?size=128x148&key=abc', SECRET), /[+/]/);
});

test('signUrl appends a signature over path and query that verifySignedPath accepts, and tampering breaks', () => {
  const url = signUrl(new URL('https://maps.googleapis.com/maps/api/streetview?location=1%2C2&key=K'), SECRET);
  const pq = url.pathname + url.search;
  assert.match(pq, /&signature=[A-Za-z0-9_-]+=*$/);
  assert.equal(verifySignedPath(pq, SECRET), true);
  assert.equal(verifySignedPath(pq.replace('location=1', 'location=3'), SECRET), false);
  assert.equal(verifySignedPath(pq, 'b3RoZXJTZWNyZXQ='), false);
  assert.equal(verifySignedPath('/maps/api/streetview?key=K', SECRET), false);
});
