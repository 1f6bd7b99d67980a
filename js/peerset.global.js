// peerset: the <script> build. It defines window.peerset with the API of the
// ES module (initialize, generateKey, open, version), which it loads on first
// use from peerset.js next to this file; peerset.js, wasm_exec.js and
// peerset.wasm must be served from the same directory.
//
//   <script src="/peerset/peerset.global.js"></script>
//   <script> peerset.open({ room: 'lobby' }).then((db) => ...) </script>
(function () {
  'use strict';
  var script = document.currentScript;
  var moduleURL = new URL('peerset.js', (script && script.src) || location.href).href;
  var loading = null;
  function load() {
    if (!loading) {
      loading = import(moduleURL);
      loading.catch(function () { loading = null; });
    }
    return loading;
  }
  function forward(name) {
    return function () {
      var args = arguments;
      return load().then(function (m) { return m[name].apply(null, args); });
    };
  }
  window.peerset = {
    version: 'dev', // scripts/build-wasm.sh writes the VERSION file's here
    initialize: forward('initialize'),
    generateKey: forward('generateKey'),
    open: forward('open'),
    /** Resolves to the ES module itself. */
    load: load,
  };
})();
