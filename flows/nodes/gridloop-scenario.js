/**
 * gridloop scenario: starts, stops, pauses or resumes a scenario on the bench and reports what it
 * does: output 1 carries the command's result, output 2 the scenario's progress and verdict (run
 * status changes and scenario events).
 */
'use strict';
const { SCENARIO_ACTIONS } = require('./protocol.js');

const NAME = /^[A-Za-z0-9._/-]{1,128}$/;

/** Scenario events: scenario-start, -pause, -resume, -stop and scenario-verdict (docs/socket-api.md). */
const isScenarioEvent = (event) => /^scenario-/.test(event.kind);

/** The command for an action on a scenario (the name is optional but for start). */
const scenarioCommand = (action, name) => ({ type: 'scenario', action, ...(name ? { name } : {}) });

module.exports = function register(RED) {
  function GridloopScenarioNode(config) {
    RED.nodes.createNode(this, config);
    this.server = RED.nodes.getNode(config.server);
    const scenario = (config.scenario || '').trim();
    const defaultAction = SCENARIO_ACTIONS.includes(config.action) ? config.action : 'start';
    const problem = !this.server
      ? 'no gridloop server configured'
      : scenario !== '' && !NAME.test(scenario)
        ? `scenario name '${scenario}' has characters other than letters, digits and . _ / -`
        : undefined;
    if (problem) {
      this.status({ fill: 'red', shape: 'ring', text: problem });
      this.error(problem);
      return;
    }
    let lastState;

    this.onLink = (link) => this.status(link.status);
    this.onRunStatus = (status) => {
      if (!status || status.state === lastState) return;
      lastState = status.state;
      if (status.scenario !== undefined || status.state === 'stopped' || status.state === 'failed') {
        this.send([null, { topic: 'gridloop/scenario/status', payload: status }]);
      }
    };
    this.onEvents = (events) => {
      for (const event of events) {
        if (!event || typeof event.kind !== 'string' || !isScenarioEvent(event)) continue;
        if (event.kind === 'scenario-verdict') {
          // data: { scenario, passed, assertions: [{ name, type, passed, value, detail }], played_s }
          const verdict = event.data && typeof event.data.passed === 'boolean' ? event.data : undefined;
          this.status({ fill: verdict?.passed ? 'green' : 'red', shape: 'dot', text: event.message });
          this.send([null, { topic: 'gridloop/scenario/verdict', payload: verdict ?? event, event }]);
          continue;
        }
        this.send([null, { topic: `gridloop/scenario/${event.kind}`, payload: event }]);
      }
    };

    this.on('input', (msg, send, done) => {
      const action =
        typeof msg.payload === 'string' && SCENARIO_ACTIONS.includes(msg.payload.trim().toLowerCase())
          ? msg.payload.trim().toLowerCase()
          : defaultAction;
      const name = typeof msg.scenario === 'string' && msg.scenario !== '' ? msg.scenario : scenario;
      if (action === 'start' && !name) {
        done(new Error('no scenario name: set it in the node or msg.scenario'));
        return;
      }
      if (name && !NAME.test(name)) {
        done(new Error(`scenario name '${name}' has characters other than letters, digits and . _ / -`));
        return;
      }
      const command = scenarioCommand(action, name);
      this.server.command(command).then((result) => {
        msg.command = command;
        msg.payload = result;
        if (result.ok) this.status({ fill: 'blue', shape: 'dot', text: result.message });
        else this.status({ fill: 'red', shape: 'ring', text: `${result.code}: ${result.reason}` });
        send([msg, null]);
        done(
          result.ok ? undefined : new Error(`scenario ${action} refused (${result.code}): ${result.reason}`),
        );
      }, done);
    });

    this.server.register(this);
    this.on('close', (done) => {
      this.server.deregister(this);
      done();
    });
  }
  RED.nodes.registerType('gridloop-scenario', GridloopScenarioNode);
};

module.exports.scenarioCommand = scenarioCommand;
