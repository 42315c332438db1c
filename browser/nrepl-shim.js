// nrepl-shim.js: a stand-in for the WebSocket that stock scittle.nrepl.js talks to.
//
// Load it after scittle.js and BEFORE scittle.nrepl.js, without setting
// window.SCITTLE_NREPL_WEBSOCKET_PORT. scittle.nrepl.js then finds this object at
// window.ws_nrepl, sets its onmessage (requests in) and calls its send (responses
// out). The sente-lite.nrepl bridge (sente-nrepl.cljs) attaches to it: it calls
// onmessage with each :nrepl/request from the sente-lite socket and sends what
// scittle.nrepl.js writes as [:nrepl/response {:edn "..."}]. Until the bridge
// attaches, sends are buffered (the oldest dropped past 1000).
(function () {
  'use strict';
  if (window.SCITTLE_NREPL_WEBSOCKET_PORT) {
    console.warn('sente-lite nrepl-shim: SCITTLE_NREPL_WEBSOCKET_PORT is set, so scittle.nrepl.js ' +
      'will replace this shim with its own WebSocket; unset it to run nREPL over sente-lite');
  }
  if (window.ws_nrepl && window.ws_nrepl.senteShim) {
    return; // loaded twice
  }
  var LIMIT = 1000;
  var buffered = [];
  var sink = null;
  var shim = {
    senteShim: true,
    url: 'sente-lite:nrepl',
    readyState: 1, // OPEN, as scittle.nrepl.js expects of a live socket
    CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3,
    protocol: '',
    extensions: '',
    bufferedAmount: 0,
    binaryType: 'blob',
    onopen: null,
    onmessage: null, // set by scittle.nrepl.js
    onerror: null,   // set by scittle.nrepl.js
    onclose: null,
    dropped: 0,
    send: function (text) {
      text = String(text);
      if (sink) {
        sink(text);
        return;
      }
      if (buffered.length >= LIMIT) {
        buffered.shift();
        shim.dropped++;
      }
      buffered.push(text);
    },
    close: function () {},
    addEventListener: function () {},
    removeEventListener: function () {},
    dispatchEvent: function () { return true; },
    // senteAttach routes every send to f (buffered ones first, in order).
    senteAttach: function (f) {
      sink = f;
      var pending = buffered;
      buffered = [];
      for (var i = 0; i < pending.length; i++) {
        f(pending[i]);
      }
    },
    // senteDetach goes back to buffering.
    senteDetach: function () {
      sink = null;
    },
    senteAttached: function () {
      return sink !== null;
    }
  };
  window.ws_nrepl = shim;
})();
