/**
 * gridloop-server: the config node that owns one socket.io connection to a gridloop bench. The
 * nodes using it register; it fans the bench's state, events and run status out to them, sends
 * their commands, and shows the link state on every one of them (a config node has no status of
 * its own in the editor).
 */
'use strict';
const { io } = require('socket.io-client');
const { SERVER_RATE_HZ, urlProblem } = require('./protocol.js');

const COMMAND_TIMEOUT_MS = 6000;
/** After the bench drops us on purpose (e.g. a flood or slow-client eviction), wait before retrying. */
const REJOIN_DELAY_MS = 1000;

const DEFAULT_URL = 'http://127.0.0.1:7410';

/** The bench URL a server node with no URL of its own uses. */
function benchUrl(RED) {
  let url;
  try {
    url = RED.settings.gridloopServerUrl;
  } catch {
    // Node-RED throws for a setting that was never set.
  }
  return url || process.env.GRIDLOOP_URL || DEFAULT_URL;
}

module.exports = function register(RED) {
  function GridloopServerNode(config) {
    RED.nodes.createNode(this, config);
    // An empty URL or token means "the bench this Node-RED belongs to": inside `gridloop start
    // --node-red` the bench sets both (settings gridloopServerUrl, gridloopServerToken); a Node-RED
    // of its own reads GRIDLOOP_URL and GRIDLOOP_TOKEN (deploy/compose.yaml sets the URL).
    this.url = (config.url || '').trim() || benchUrl(RED);
    // Not `users`: Node-RED reads a config node's `users` as an id -> node map.
    this.clientNodes = new Set();
    this.welcome = null;
    this.topology = null;
    this.runStatus = null;
    this.socket = null;
    this.closing = false;
    this.link = { state: 'idle', status: { fill: 'grey', shape: 'ring', text: 'not connected' } };
    let rejoinTimer;
    let subscribedRate = 0;

    const setLink = (state, status, detail) => {
      const previous = this.link.state;
      this.link = { state, status, detail };
      this.status(status);
      for (const user of this.clientNodes) {
        if (user.onLink) user.onLink(this.link, previous);
        else user.status(status);
      }
    };

    const fanOut = (method, value) => {
      for (const user of this.clientNodes) {
        if (typeof user[method] !== 'function') continue;
        try {
          user[method](value);
        } catch (err) {
          user.error(`gridloop: ${err.message}`);
        }
      }
    };

    this.wantedRate = () => {
      let rate = 0;
      for (const user of this.clientNodes) rate = Math.max(rate, user.rate_hz || 0);
      if (rate === 0) return 0;
      return Math.min(SERVER_RATE_HZ.max, Math.max(SERVER_RATE_HZ.min, Math.ceil(rate)));
    };

    this.resubscribe = () => {
      const rate = this.wantedRate();
      if (!this.socket?.connected || rate === subscribedRate) return;
      subscribedRate = rate;
      // With no state nodes the stream still runs at the floor rate: the bench has no "off".
      this.socket.emit('subscribe', { rate_hz: rate || SERVER_RATE_HZ.min });
    };

    const connect = () => {
      const problem = urlProblem(this.url);
      if (problem) {
        setLink('error', { fill: 'red', shape: 'ring', text: problem }, problem);
        return;
      }
      const token = this.credentials?.token || RED.settings.gridloopServerToken || process.env.GRIDLOOP_TOKEN;
      if (!token) {
        setLink(
          'error',
          { fill: 'red', shape: 'ring', text: 'no token (enter one, or set GRIDLOOP_TOKEN)' },
          'no token',
        );
        return;
      }
      setLink('connecting', { fill: 'yellow', shape: 'ring', text: 'connecting' });
      const socket = io(this.url, {
        auth: { token },
        forceNew: true,
        transports: ['websocket'],
        reconnection: true,
        reconnectionDelay: 250,
        reconnectionDelayMax: 5000,
        timeout: 5000,
      });
      this.socket = socket;
      socket.on('connect', () => {
        subscribedRate = 0;
        setLink('connecting', { fill: 'yellow', shape: 'dot', text: 'connected, waiting for welcome' });
      });
      socket.on('welcome', (welcome) => {
        this.welcome = welcome;
        if (welcome.topology) this.topology = welcome.topology;
        if (welcome.status) this.runStatus = welcome.status;
        setLink('connected', { fill: 'green', shape: 'dot', text: `connected as ${welcome.role}` });
        this.resubscribe();
        fanOut('onWelcome', welcome);
      });
      socket.on('topology', (topology) => {
        this.topology = topology;
      });
      socket.on('state', (state) => fanOut('onState', state));
      socket.on('events', (events) => {
        if (Array.isArray(events)) fanOut('onEvents', events);
      });
      socket.on('status', (status) => {
        this.runStatus = status;
        fanOut('onRunStatus', status);
      });
      socket.on('connect_error', (err) => {
        const reason = err?.message ? err.message : String(err);
        if (!socket.active) {
          // Refused by the bench (bad token): socket.io does not retry, and neither do we.
          setLink('refused', { fill: 'red', shape: 'ring', text: `refused: ${reason}` }, reason);
        } else {
          setLink(
            'reconnecting',
            { fill: 'yellow', shape: 'ring', text: `reconnecting (${reason})` },
            reason,
          );
        }
      });
      socket.on('disconnect', (reason) => {
        if (this.closing) return;
        const lost = this.link.state === 'connected';
        setLink(
          'reconnecting',
          { fill: 'yellow', shape: 'ring', text: `link lost (${reason}), reconnecting` },
          reason,
        );
        if (lost) fanOut('onLinkLost', reason);
        if (reason === 'io server disconnect') {
          // The bench closed this client itself; socket.io leaves reconnecting to us.
          clearTimeout(rejoinTimer);
          rejoinTimer = setTimeout(() => {
            if (!this.closing && this.socket === socket) socket.connect();
          }, REJOIN_DELAY_MS);
        }
      });
    };

    const disconnect = () => {
      clearTimeout(rejoinTimer);
      const socket = this.socket;
      this.socket = null;
      this.welcome = null;
      subscribedRate = 0;
      if (socket) {
        socket.removeAllListeners();
        socket.io.removeAllListeners();
        socket.disconnect();
      }
    };

    this.register = (user) => {
      this.clientNodes.add(user);
      if (!this.socket && !this.closing && this.link.state !== 'error') connect();
      else {
        if (user.onLink) user.onLink(this.link, undefined);
        else user.status(this.link.status);
        if (this.welcome && typeof user.onWelcome === 'function') user.onWelcome(this.welcome);
        this.resubscribe();
      }
    };

    this.deregister = (user) => {
      this.clientNodes.delete(user);
      if (this.clientNodes.size === 0) {
        disconnect();
        this.link = { state: 'idle', status: { fill: 'grey', shape: 'ring', text: 'not connected' } };
      } else this.resubscribe();
    };

    /** Sends one command; always resolves with a CommandResult, refused or not (never queued). */
    this.command = (command) =>
      new Promise((resolve) => {
        const socket = this.socket;
        if (!socket?.connected || this.link.state !== 'connected') {
          resolve({ ok: false, auditId: '', code: 'unavailable', reason: 'not connected to the bench' });
          return;
        }
        socket.timeout(COMMAND_TIMEOUT_MS).emit('command', command, (err, result) => {
          if (err) {
            resolve({
              ok: false,
              auditId: '',
              code: 'failed',
              reason: `no answer from the bench within ${COMMAND_TIMEOUT_MS / 1000} s`,
            });
          } else if (!result || typeof result !== 'object') {
            resolve({ ok: false, auditId: '', code: 'failed', reason: 'the bench sent a malformed result' });
          } else resolve(result);
        });
      });

    /** The role the bench gave this token, once connected. */
    this.role = () => (this.welcome ? this.welcome.role : undefined);

    this.on('close', (_removed, done) => {
      this.closing = true;
      disconnect();
      this.clientNodes.clear();
      done();
    });
  }

  RED.nodes.registerType('gridloop-server', GridloopServerNode, {
    credentials: { token: { type: 'password' } },
    settings: {
      // An embedding bench sets this so a new server node points at it (see docs/node-red.md).
      // Otherwise GRIDLOOP_URL (as deploy/compose.yaml sets it), else a bench on this machine.
      gridloopServerUrl: { value: process.env.GRIDLOOP_URL || DEFAULT_URL, exportable: true },
    },
  });
};
