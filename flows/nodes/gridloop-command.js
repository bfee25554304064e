/**
 * gridloop command: sends breaker, island, set-point, FID set-point, scenario and emergency-stop
 * commands to the bench through its server node (whose token must have the operator role), and
 * outputs the bench's result.
 */
'use strict';
const { SCENARIO_ACTIONS } = require('./protocol.js');

const KINDS = ['setpoint', 'breaker', 'island', 'fid-setpoint', 'scenario', 'emergency-stop', 'msg'];

const finite = (value) => typeof value === 'number' && Number.isFinite(value);

function booleanOf(value, yes, no) {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const word = value.trim().toLowerCase();
    if (yes.includes(word)) return true;
    if (no.includes(word)) return false;
  }
  return undefined;
}

/** The command for one message: `{ command }`, or `{ problem }` naming what was wrong. */
function buildCommand(kind, configTarget, msg) {
  const target = typeof msg.target === 'string' && msg.target !== '' ? msg.target : configTarget;
  const payload = msg.payload;
  const needTarget = (what) =>
    target ? undefined : { problem: `no ${what}: set it in the node or msg.target` };
  switch (kind) {
    case 'setpoint': {
      const missing = needTarget('device id');
      if (missing) return missing;
      if (finite(payload)) return { command: { type: 'setpoint', deviceId: target, p_mw: payload } };
      if (payload && typeof payload === 'object' && (finite(payload.p_mw) || finite(payload.q_mvar))) {
        const command = { type: 'setpoint', deviceId: target };
        if (payload.p_mw !== undefined) {
          if (!finite(payload.p_mw)) return { problem: 'msg.payload.p_mw must be a number (MW)' };
          command.p_mw = payload.p_mw;
        }
        if (payload.q_mvar !== undefined) {
          if (!finite(payload.q_mvar)) return { problem: 'msg.payload.q_mvar must be a number (Mvar)' };
          command.q_mvar = payload.q_mvar;
        }
        return { command };
      }
      return { problem: 'msg.payload must be a number (MW) or { p_mw, q_mvar }' };
    }
    case 'breaker': {
      const missing = needTarget('breaker id');
      if (missing) return missing;
      const closed = booleanOf(payload, ['close', 'closed', 'on'], ['open', 'opened', 'off']);
      if (closed === undefined) return { problem: "msg.payload must be true/'close' or false/'open'" };
      return { command: { type: 'breaker', id: target, closed } };
    }
    case 'island': {
      const islanded = booleanOf(payload, ['island', 'islanded', 'on'], ['reconnect', 'connect', 'off']);
      if (islanded === undefined)
        return { problem: "msg.payload must be true/'island' or false/'reconnect'" };
      return { command: { type: 'island', islanded, ...(target ? { microgrid: target } : {}) } };
    }
    case 'fid-setpoint': {
      const missing = needTarget('FID id');
      if (missing) return missing;
      const p = finite(payload) ? payload : payload && finite(payload.p_mw) ? payload.p_mw : undefined;
      if (p === undefined) return { problem: 'msg.payload must be a number (MW, side A to side B)' };
      return { command: { type: 'fid-setpoint', fidId: target, p_mw: p } };
    }
    case 'scenario': {
      const action = typeof payload === 'string' ? payload.trim().toLowerCase() : '';
      if (!SCENARIO_ACTIONS.includes(action)) {
        return { problem: `msg.payload must be one of ${SCENARIO_ACTIONS.join(', ')}` };
      }
      return { command: { type: 'scenario', action, ...(target ? { name: target } : {}) } };
    }
    case 'emergency-stop':
      return { command: { type: 'emergency-stop' } };
    case 'msg':
      if (!payload || typeof payload !== 'object' || typeof payload.type !== 'string') {
        return { problem: 'msg.payload must be a command object with a type (see the node help)' };
      }
      return { command: payload };
    default:
      return { problem: `unknown command kind ${kind}` };
  }
}

/** Shows a result on the node and sends it on; refusals also go to catch nodes. */
function deliver(node, msg, command, result, send, done) {
  msg.command = command;
  msg.payload = result;
  if (result.ok) {
    node.status({ fill: 'green', shape: 'dot', text: result.message });
    send(msg);
    done();
  } else {
    node.status({ fill: 'red', shape: 'ring', text: `${result.code}: ${result.reason}` });
    send(msg);
    done(new Error(`${command ? command.type : 'command'} refused (${result.code}): ${result.reason}`));
  }
}

module.exports = function register(RED) {
  function GridloopCommandNode(config) {
    RED.nodes.createNode(this, config);
    this.server = RED.nodes.getNode(config.server);
    const kind = KINDS.includes(config.command) ? config.command : undefined;
    const target = (config.target || '').trim();
    const problem = !this.server
      ? 'no gridloop server configured'
      : !kind
        ? `unknown command kind '${config.command}'`
        : undefined;
    if (problem) {
      this.status({ fill: 'red', shape: 'ring', text: problem });
      this.error(problem);
      return;
    }
    this.onLink = (link) => this.status(link.status);
    this.onWelcome = (welcome) => {
      if (!welcome.commands || welcome.commands.length === 0) {
        this.status({
          fill: 'red',
          shape: 'ring',
          text: `${welcome.role} token: commands need an operator token`,
        });
      }
    };

    this.on('input', (msg, send, done) => {
      const built = buildCommand(kind, target, msg);
      if (built.problem) {
        deliver(
          this,
          msg,
          undefined,
          { ok: false, auditId: '', code: 'invalid', reason: built.problem },
          send,
          done,
        );
        return;
      }
      this.server.command(built.command).then(
        (result) => deliver(this, msg, built.command, result, send, done),
        (err) => done(err),
      );
    });

    this.server.register(this);
    this.on('close', (done) => {
      this.server.deregister(this);
      done();
    });
  }
  RED.nodes.registerType('gridloop-command', GridloopCommandNode);
};

module.exports.buildCommand = buildCommand;
module.exports.KINDS = KINDS;
