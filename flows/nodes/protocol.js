/**
 * The few values of the gridloop socket.io API (docs/socket-api.md) these nodes need at run time,
 * held here because the package installs on its own, without the bench's code. The API itself,
 * events, commands and the role each needs, is written once, in the bench's bench/server/api.ts;
 * the repository's test/socket-contract.test.ts checks every event these nodes use, every command
 * they build and these values against it.
 */
'use strict';

/** Event severities, least first (`SEVERITIES` in the API). */
const SEVERITIES = ['info', 'warning', 'alarm'];
/** What a scenario command may ask (`SCENARIO_ACTIONS` in the API). */
const SCENARIO_ACTIONS = ['start', 'stop', 'pause', 'resume'];
/** The bench clamps state rates to this range (Hz); nodes thin the stream further themselves. */
const SERVER_RATE_HZ = { min: 1, max: 50 };
/** A node's own rate range, Hz. */
const NODE_RATE_HZ = { min: 0.1, max: 50 };

/** Checks a bench URL; returns an error message or undefined. */
function urlProblem(url) {
  if (typeof url !== 'string' || url.trim() === '') return 'no bench URL';
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return `'${url}' is not a URL`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return `'${url}' must start with http:// or https://`;
  }
  // socket.io would read a path as a namespace the bench does not have.
  if (parsed.pathname !== '/' || parsed.search || parsed.hash) {
    return `'${url}' must be the bench's root URL, without a path (e.g. http://127.0.0.1:7410)`;
  }
  return undefined;
}

function rateProblem(rate) {
  const value = Number(rate);
  if (!Number.isFinite(value) || value < NODE_RATE_HZ.min || value > NODE_RATE_HZ.max) {
    return `rate must be ${NODE_RATE_HZ.min}..${NODE_RATE_HZ.max} Hz, got '${rate}'`;
  }
  return undefined;
}

module.exports = {
  SEVERITIES,
  SCENARIO_ACTIONS,
  SERVER_RATE_HZ,
  NODE_RATE_HZ,
  urlProblem,
  rateProblem,
};
