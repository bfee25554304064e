/** gridloop event: emits the bench's alarms, trips, attack and detection events, and link loss. */
'use strict';
const { SEVERITIES } = require('./protocol.js');

module.exports = function register(RED) {
  function GridloopEventNode(config) {
    RED.nodes.createNode(this, config);
    this.server = RED.nodes.getNode(config.server);
    const minSeverity = SEVERITIES.includes(config.severity) ? config.severity : 'info';
    const minRank = SEVERITIES.indexOf(minSeverity);
    let kindPattern;
    try {
      kindPattern = config.kinds ? new RegExp(config.kinds, 'i') : undefined;
    } catch (err) {
      const problem = `event kinds: invalid pattern (${err.message})`;
      this.status({ fill: 'red', shape: 'ring', text: problem });
      this.error(problem);
      return;
    }
    if (!this.server) {
      this.status({ fill: 'red', shape: 'ring', text: 'no gridloop server configured' });
      this.error('no gridloop server configured');
      return;
    }
    const includeLink = config.link === true || config.link === 'true';
    let count = 0;

    const emit = (event) => {
      count++;
      this.send({ topic: `gridloop/event/${event.kind}`, payload: event });
    };
    this.onEvents = (events) => {
      for (const event of events) {
        if (!event || typeof event.kind !== 'string') continue;
        if (SEVERITIES.indexOf(event.severity) < minRank) continue;
        if (kindPattern && !kindPattern.test(event.kind)) continue;
        emit(event);
      }
      if (count > 0 && this.server.link.state === 'connected') {
        this.status({ fill: 'green', shape: 'dot', text: `${count} events` });
      }
    };
    const linkEvent = (kind, severity, message) => ({
      t_s: this.server.runStatus ? this.server.runStatus.t_s : 0,
      kind,
      message,
      severity,
      source: 'bench',
      time: new Date().toISOString(),
      target: this.server.url,
    });
    this.onLink = (link, previous) => {
      this.status(link.status);
      if (!includeLink) return;
      if (link.state === 'connected' && previous && previous !== 'connected' && this.hadLink) {
        emit(linkEvent('link-restored', 'info', `link to the bench at ${this.server.url} restored`));
      }
      if (link.state === 'refused') {
        emit(linkEvent('link-refused', 'alarm', `the bench refused this client: ${link.detail}`));
      }
      if (link.state === 'connected') this.hadLink = true;
    };
    this.onLinkLost = (reason) => {
      if (includeLink) emit(linkEvent('link-lost', 'alarm', `link to the bench lost (${reason})`));
    };

    this.server.register(this);
    this.on('close', (done) => {
      this.server.deregister(this);
      done();
    });
  }
  RED.nodes.registerType('gridloop-event', GridloopEventNode);
};
