// Loaded after require.js and before the widget manager (see nb_ipywidgets_js in _config.yml).
// The manager computes the address of the fonts it loads from the names of its own modules;
// these paths tell require.js that all of them live in the vendored folder beside this file.
(function () {
  var folder = new URL("vendor/html-manager-1.0.15/", document.currentScript.src).href;
  var bundle = folder + "embed-amd";
  var paths = {"@jupyter-widgets/html-manager/dist": folder.replace(/\/$/, "")};
  ["html-manager", "base", "base7", "controls", "controls7"].forEach(function (name) {
    paths["@jupyter-widgets/" + name] = bundle;
  });
  require.config({paths: paths});
})();
