// Draws every chart of a page with the vendored vega-embed; each spec is JSON in the page.
// Views are kept on `window.charterCharts` and each figure says when it is drawn
// (`data-rendered`), for the browser test.
(function () {
  "use strict";
  window.charterCharts = {};
  var figures = document.querySelectorAll("figure[data-chart]");
  Array.prototype.forEach.call(figures, function (figure) {
    var id = figure.getAttribute("data-chart");
    var spec = JSON.parse(document.getElementById(id).textContent);
    vegaEmbed(document.getElementById(id + "-view"), spec, {renderer: "svg", actions: false})
      .then(function (result) {
        window.charterCharts[id] = result.view;
        figure.setAttribute("data-rendered", "true");
      })
      .catch(function (error) {
        figure.setAttribute("data-rendered", "error");
        console.error("chart " + id + ": " + error);
      });
  });
})();
