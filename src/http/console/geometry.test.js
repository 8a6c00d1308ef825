// Unit tests of the zone editor's geometry (run: `node --test src/http/console/`).
import test from "node:test";
import assert from "node:assert/strict";
import { normalise, hitPoint, segmentsIntersect, selfIntersects, shapeProblem } from "./geometry.js";

test("pointer pixels become clamped normalised points", () => {
  assert.deepEqual(normalise(384, 144, 768, 576), [0.5, 0.25]);
  assert.deepEqual(normalise(-5, 600, 768, 576), [0, 1]);
  assert.deepEqual(normalise(1, 1, 3, 3), [0.3333, 0.3333]);
});

test("hit-testing picks the nearest point within the radius", () => {
  const pts = [[0.1, 0.1], [0.12, 0.1], [0.9, 0.9]];
  // On a 1000 px square picture: (0.1, 0.1) is at (100, 100), (0.12, 0.1) at (120, 100).
  assert.equal(hitPoint(pts, 103, 100, 1000, 1000, 8), 0);
  assert.equal(hitPoint(pts, 117, 101, 1000, 1000, 8), 1);
  assert.equal(hitPoint(pts, 500, 500, 1000, 1000, 8), -1);
  assert.equal(hitPoint(pts, 900, 909, 1000, 1000, 8), -1); // 9 px away
});

test("segment intersection: crossing, apart, touching, collinear", () => {
  assert.equal(segmentsIntersect([0, 0], [1, 1], [0, 1], [1, 0]), true);
  assert.equal(segmentsIntersect([0, 0], [1, 0], [0, 1], [1, 1]), false);
  assert.equal(segmentsIntersect([0, 0], [1, 0], [0.5, 0], [0.5, 1]), true);
  assert.equal(segmentsIntersect([0, 0], [1, 0], [2, 0], [3, 0]), false);
  assert.equal(segmentsIntersect([0, 0], [2, 0], [1, 0], [3, 0]), true);
});

test("a square is simple, a bow-tie crosses itself", () => {
  assert.equal(selfIntersects([[0, 0], [1, 0], [1, 1], [0, 1]]), false);
  assert.equal(selfIntersects([[0, 0], [1, 1], [1, 0], [0, 1]]), true);
  assert.equal(selfIntersects([[0, 0], [1, 0], [0.5, 1]]), false);
});

test("shape problems are named before saving", () => {
  const square = [[0, 0.3], [1, 0.3], [1, 0.8], [0, 0.8]];
  assert.equal(shapeProblem("zone", "walkway", square), null);
  assert.match(shapeProblem("zone", "walk way", square), /id "walk way"/);
  assert.match(shapeProblem("zone", "z", square.slice(0, 2)), /at least 3 points \(it has 2\)/);
  assert.match(shapeProblem("zone", "z", [[0, 0], [1, 1], [1, 0], [0, 1]]), /crosses itself/);
  assert.equal(shapeProblem("line", "door", [[0.2, 0.5], [0.8, 0.5]]), null);
  assert.match(shapeProblem("line", "door", [[0.2, 0.5]]), /exactly 2 points/);
  assert.match(shapeProblem("line", "door", [[0.2, 0.5], [0.2, 0.5]]), /the same/);
});
