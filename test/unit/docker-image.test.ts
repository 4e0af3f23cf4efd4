/** The Vagrant docker provider's image is rebuilt exactly when its base rootfs changes (src/testbed/docker.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageSource } from '../../src/testbed/docker.js';

const marker = (built: string) => `version=1\nsuite=bookworm\nbuilt=${built}\n`;

describe('imageSource', () => {
  it('is the same for the same base rootfs', () => {
    assert.equal(imageSource(marker('2026-12-05T10:09:01.604Z')), imageSource(marker('2026-12-05T10:09:01.604Z')));
  });
  it('changes when the base rootfs is rebuilt', () => {
    assert.notEqual(imageSource(marker('2026-12-05T10:09:01.604Z')), imageSource(marker('2026-12-06T08:00:00.000Z')));
  });
  it('changes with the base rootfs version', () => {
    assert.notEqual(imageSource(marker('x')), imageSource(marker('x').replace('version=1', 'version=2')));
  });
  it('names what it is made of (a docker label value: no spaces or newlines)', () => {
    assert.match(imageSource(marker('2026-12-05T10:09:01.604Z')), /^recipe=\d+,base=1,built=2026-12-05T10:09:01\.604Z$/);
  });
});
