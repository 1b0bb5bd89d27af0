/* townstat: a small offline stand-in for the CDN plugins that Great Expectations' Data Docs
   load (bootstrap-table, bootstrap's modal/tooltip/popover/collapse/alert, vega-embed).
   Tables are rendered as plain sortable HTML tables; charts are replaced by a note. */
(function ($) {
  "use strict";
  function cell(v) { return v === null || v === undefined ? "" : String(v); }
  $.fn.bootstrapTable = function (opts) {
    if (typeof opts !== "object" || opts === null) { return this; }
    var cols = opts.columns || [];
    if (cols.length && Array.isArray(cols[0])) { cols = cols[cols.length - 1]; }
    var data = opts.data || [];
    return this.each(function () {
      var table = $(this).addClass("table table-sm gx-table");
      var thead = $("<thead/>"), tr = $("<tr/>");
      cols.forEach(function (c) {
        if (c.visible === false) { return; }
        tr.append($("<th/>").html(cell(c.title !== undefined ? c.title : c.field)));
      });
      thead.append(tr);
      var tbody = $("<tbody/>");
      data.forEach(function (row) {
        var r = $("<tr/>");
        if (row._table_row_attributes && row._table_row_attributes.href) {
          r.attr("data-href", row._table_row_attributes.href).addClass("gx-link-row");
        }
        cols.forEach(function (c) {
          if (c.visible === false) { return; }
          r.append($("<td/>").html(cell(row[c.field])));
        });
        tbody.append(r);
      });
      table.empty().append(thead).append(tbody);
      table.on("click", "tr.gx-link-row", function () {
        var href = $(this).attr("data-href");
        if (href) { window.location = href; }
      });
    });
  };
  ["modal", "tooltip", "popover", "collapse", "alert", "dropdown", "tab"].forEach(function (n) {
    if (!$.fn[n]) { $.fn[n] = function () { return this; }; }
  });
  window.vegaEmbed = window.vegaEmbed || function (el) {
    var node = typeof el === "string" ? document.querySelector(el) : el;
    if (node) { node.textContent = "(图表需联网加载，离线不显示 / chart not shown offline)"; }
    return Promise.resolve({});
  };
  $(document).on("click", ".collapse-toggle, [data-toggle='collapse']", function (e) {
    var target = $(this).attr("data-target") || $(this).attr("href");
    if (target && target.charAt(0) === "#") { e.preventDefault(); $(target).toggleClass("show"); }
  });
})(window.jQuery);
