/**
 * The CSRF rule itself (`src/security/csrf.ts`), for inputs Node's HTTP parser
 * never passes on (it trims header values and joins repeated ones), so that
 * the rule holds for any caller; `test/http/csrf.test.ts` and
 * `limits.test.ts` send the requests browsers send.
 */
import { describe, expect, it } from 'vitest';
import { isCsrfSuspect, mediaType } from '../../src/security/csrf.js';

describe('the CSRF rule', () => {
  it('parses a media type only when it is exactly type/subtype of token characters', () => {
    expect(mediaType(' Application/JSON ; charset=utf-8')).toBe('application/json');
    expect(mediaType('text/plain')).toBe('text/plain');
    for (const value of [
      'application/json/x',
      '/json',
      'application/',
      'json',
      'a(b/json',
      'json/a(b',
      'app lication/json',
      'application/js on',
      '',
    ]) {
      expect({ value, type: mediaType(value) }).toEqual({ value, type: undefined });
    }
  });

  it('refuses simple and unparseable content types without a non-empty CSRF header', () => {
    const suspect = (contentType: string, extra: Record<string, string | string[]> = {}) =>
      isCsrfSuspect('POST', { 'content-type': contentType, ...extra });
    expect(
      [
        'text/plain',
        'Multipart/Form-Data; boundary=x',
        'application/x-www-form-urlencoded',
        'a(b/json',
        'text/plain/x',
      ].map((t) => suspect(t)),
    ).toEqual([true, true, true, true, true]);
    expect(suspect('application/json ; charset=utf-8')).toBe(false);
    expect(suspect('text/plain', { 'x-graphql-csrf': ' \t' })).toBe(true);
    expect(suspect('text/plain', { 'x-graphql-csrf': ['', ' '] })).toBe(true);
    expect(suspect('text/plain', { 'apollo-require-preflight': ['', 'true'] })).toBe(false);
    expect(suspect('text/plain', { 'x-graphql-csrf': '1' })).toBe(false);
  });

  it('without a content type, lets only GET, HEAD and OPTIONS through', () => {
    const methods = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'DELETE', undefined];
    expect(methods.map((m) => isCsrfSuspect(m, {}))).toEqual([false, false, false, true, true, true, true]);
    expect(methods.map((m) => isCsrfSuspect(m, { 'content-type': ' ' }))).toEqual([
      false,
      false,
      false,
      true,
      true,
      true,
      true,
    ]);
  });
});
