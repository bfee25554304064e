/**
 * gridloop state: emits the twin's live state at a chosen rate, whole or for one island, microgrid,
 * bus or device.
 */
'use strict';
const { rateProblem } = require('./protocol.js');

const FILTERS = ['all', 'island', 'microgrid', 'bus', 'device'];

/** The island holding `target`: an island id, or a microgrid id whose buses the island contains. */
function findIsland(state, topology, target) {
  const direct = state.islands.find((island) => island.id === target);
  if (direct) return direct;
  if (!topology) return undefined;
  const buses = new Set(topology.buses.filter((b) => b.microgrid === target).map((b) => b.id));
  if (buses.size === 0) return undefined;
  return state.islands.find(
    (island) => Array.isArray(island.buses) && island.buses.some((b) => buses.has(b)),
  );
}

/** Builds the message for one state, or returns a reason why there is none. */
function select(filter, target, state, topology) {
  const base = { t_s: state.t_s, step: state.step };
  switch (filter) {
    case 'all':
      return { topic: 'gridloop/state', payload: state };
    case 'island': {
      const island = findIsland(state, topology, target);
      if (!island) return { missing: `island ${target} not in the bench's state` };
      return { topic: `gridloop/island/${target}`, payload: { ...base, ...island } };
    }
    case 'microgrid': {
      if (!state.microgrids) return { missing: 'this bench does not send microgrids' };
      const microgrid = state.microgrids[target];
      if (!microgrid) return { missing: `microgrid ${target} not in the bench's state` };
      return { topic: `gridloop/microgrid/${target}`, payload: { ...base, id: target, ...microgrid } };
    }
    case 'device': {
      const device = state.devices ? state.devices[target] : undefined;
      if (!device) return { missing: `device ${target} not in the bench's state` };
      return { topic: `gridloop/device/${target}`, payload: { ...base, id: target, ...device } };
    }
    case 'bus': {
      const index = topology ? topology.buses.findIndex((b) => b.id === target) : -1;
      if (index < 0) return { missing: `bus ${target} not in the bench's grid` };
      if (!Array.isArray(state.vm_pu) || typeof state.vm_pu[index] !== 'number') {
        return { missing: 'this bench does not send bus voltages' };
      }
      const island = state.islands.find((i) => Array.isArray(i.buses) && i.buses.includes(target));
      return {
        topic: `gridloop/bus/${target}`,
        payload: { ...base, id: target, vm_pu: state.vm_pu[index], island: island ? island.id : undefined },
      };
    }
    default:
      return { missing: `unknown filter ${filter}` };
  }
}

module.exports = function register(RED) {
  function GridloopStateNode(config) {
    RED.nodes.createNode(this, config);
    this.server = RED.nodes.getNode(config.server);
    const filter = FILTERS.includes(config.filter) ? config.filter : 'all';
    const target = (config.target || '').trim();
    const problem =
      rateProblem(config.rate) ||
      (filter !== 'all' && target === '' ? `a ${filter} filter needs an id` : undefined) ||
      (this.server ? undefined : 'no gridloop server configured');
    if (problem) {
      this.status({ fill: 'red', shape: 'ring', text: problem });
      this.error(problem);
      return;
    }
    this.rate_hz = Number(config.rate);
    const interval_ms = 1000 / this.rate_hz;
    let lastSent_ms = Number.NEGATIVE_INFINITY;
    let lastMissing;
    let linkUp = false;

    this.onLink = (link) => {
      linkUp = link.state === 'connected';
      lastMissing = undefined;
      this.status(link.status);
    };
    this.onState = (state) => {
      const now = Date.now();
      if (now - lastSent_ms < interval_ms * 0.98) return;
      const out = select(filter, target, state, this.server.topology);
      if (out.missing) {
        if (out.missing !== lastMissing) this.status({ fill: 'yellow', shape: 'ring', text: out.missing });
        lastMissing = out.missing;
        return;
      }
      if (lastMissing !== undefined && linkUp) this.status(this.server.link.status);
      lastMissing = undefined;
      lastSent_ms = now;
      this.send({ topic: out.topic, payload: out.payload });
    };

    this.server.register(this);
    this.on('close', (done) => {
      this.server.deregister(this);
      done();
    });
  }
  RED.nodes.registerType('gridloop-state', GridloopStateNode);
};

module.exports.select = select;
