/* taskbasket dashboard: polls the page's JSON every few seconds and keeps it current.
   The overview is updated in place; other pages reload when their data changed. */
(function () {
  "use strict";
  var body = document.body;

  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  var url = body.getAttribute("data-poll");
  if (!url) {
    return;
  }
  var every = parseInt(body.getAttribute("data-every"), 10) || 3000;
  var mode = body.getAttribute("data-mode");

  function setText(selector, attribute, values) {
    document.querySelectorAll(selector).forEach(function (element) {
      var key = element.getAttribute(attribute);
      if (Object.prototype.hasOwnProperty.call(values, key)) {
        element.textContent = String(values[key]);
      }
    });
  }

  function updateOverview(data) {
    if (data.queues_version !== body.getAttribute("data-version")) {
      window.location.reload();  /* a queue came or went: rebuild the table */
      return;
    }
    var totals = Object.assign({ total: data.total }, data.totals);
    setText("[data-total]", "data-total", totals);
    data.queues.forEach(function (row) {
      var counts = Object.assign({ total: row.total }, row.counts);
      document.querySelectorAll("[data-q]").forEach(function (cell) {
        if (cell.getAttribute("data-q") === row.queue) {
          var key = cell.getAttribute("data-s");
          if (Object.prototype.hasOwnProperty.call(counts, key)) {
            cell.textContent = String(counts[key]);
          }
        }
      });
    });
    data.charts.forEach(function (chart) {
      var figure = document.querySelector('[data-chart="' + chart.key + '"]');
      if (!figure) {
        return;
      }
      figure.querySelector("[data-top]").textContent = chart.top;
      figure.querySelector("[data-span]").textContent = chart.span;
      chart.series.forEach(function (series) {
        figure.querySelectorAll("[data-series]").forEach(function (line) {
          if (line.getAttribute("data-series") === series.key) {
            line.setAttribute("points", series.points);
          }
        });
        figure.querySelectorAll("[data-last]").forEach(function (label) {
          if (label.getAttribute("data-last") === series.key) {
            label.textContent = series.last;
          }
        });
      });
    });
    var readAt = document.querySelector("[data-read-at]");
    if (readAt) {
      readAt.textContent = data.read_at;
    }
  }

  function tick() {
    if (document.hidden) {
      window.setTimeout(tick, every);
      return;
    }
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin",
                 cache: "no-store" })
      .then(function (response) {
        if (response.status === 401 || response.status === 404) {
          window.location.reload();  /* signed out, or the task is gone: show why */
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (!data) {
          return;
        }
        if (mode === "overview") {
          updateOverview(data);
        } else if (data.version !== body.getAttribute("data-version")) {
          window.location.reload();
        }
      })
      .catch(function () { /* the server is away: try again next time */ })
      .then(function () { window.setTimeout(tick, every); });
  }

  window.setTimeout(tick, every);
})();
