"""The report page: sections, interactive tables and figures, all inline in one HTML file.

Every piece of user-supplied text reaches the page one of three ways, each escaped:
HTML text through :func:`html.escape`; table cells and figure data as JSON inside
``<script type="application/json">`` (``<``, ``>`` and ``&`` written as ``\\u003c`` etc.,
so no ``</script>`` can end the block) and put on the page with ``textContent``; figure
labels drawn by plotly are HTML-escaped first (plotly reads a small set of HTML tags in
its labels and turns entities back into the characters).
"""

from __future__ import annotations

import html
import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

STATIC_FORMATS = ("svg", "pdf", "png")
PNG_DPI = 300


def slug(name: str) -> str:
    """A file name from ``name`` (which may hold user text): letters, digits, ``.``, ``_``
    and ``-`` kept, anything else as ``_``, at most 120 characters."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "x"
    return out[:120]


def esc(text: object) -> str:
    """HTML-escape ``text`` (quotes too)."""
    return html.escape(str(text), quote=True)


def script_json(obj: object) -> str:
    """JSON safe to place inside a ``<script>`` element."""
    text = obj if isinstance(obj, str) else json.dumps(obj, default=_json_default, allow_nan=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _json_default(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return str(value)


def _cell(value: object) -> object:
    """A table cell as JSON: numbers stay numbers (sortable), missing values are null."""
    if value is None or (isinstance(value, float | np.floating) and not math.isfinite(float(value))):
        return None
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, np.integer | int):
        return int(value)
    if isinstance(value, np.floating | float):
        return float(f"{float(value):.6g}")  # six significant digits on the page; TSV keeps all
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _columns(df: pd.DataFrame) -> list[dict[str, list[object]]]:
    """Each column as ``{"v": values}``, or, when it repeats a few texts, ``{"d": distinct
    texts, "i": index of each cell's text}`` (long result tables repeat method and measure
    names in every row)."""
    out: list[dict[str, list[object]]] = []
    for _, col in df.items():
        cells = [_cell(v) for v in col.tolist()]
        texts = [c for c in cells if isinstance(c, str)]
        distinct = list(dict.fromkeys(cells))
        if len(texts) == len(cells) and len(cells) > 20 and len(distinct) <= len(cells) // 4:
            pos = {v: i for i, v in enumerate(distinct)}
            out.append({"d": distinct, "i": [pos[c] for c in cells]})
        else:
            out.append({"v": cells})
    return out


@dataclass
class Section:
    anchor: str
    title: str
    parts: list[str] = field(default_factory=list)


MAX_TABLE_ROWS = 2000  # rows embedded in the page per table (the TSV has all)


class Page:
    """Collects sections; writes figures to ``figures/`` and tables to ``tables/``."""

    def __init__(self, out_dir: Path, *, static: bool = True) -> None:
        self.out_dir = out_dir
        self.static = static
        self.sections: list[Section] = []
        self.n_plots = 0
        self.n_tables = 0
        self.figure_files: list[str] = []
        self.table_files: list[str] = []
        (out_dir / "figures").mkdir(parents=True, exist_ok=True)
        (out_dir / "tables").mkdir(parents=True, exist_ok=True)

    # -- structure ------------------------------------------------------------------------
    def section(self, anchor: str, title: str) -> Section:
        sec = Section(anchor, title)
        self.sections.append(sec)
        return sec

    @property
    def current(self) -> Section:
        return self.sections[-1]

    def raw(self, markup: str) -> None:
        """Append trusted markup (built by this package from escaped parts)."""
        self.current.parts.append(markup)

    def heading(self, text: str) -> None:
        self.raw(f"<h3>{esc(text)}</h3>")

    def text(self, text: str, cls: str = "note") -> None:
        self.raw(f'<p class="{cls}">{esc(text)}</p>')

    # -- tables ---------------------------------------------------------------------------
    def table(self, df: pd.DataFrame, name: str, *, caption: str = "", index: bool = False,
              page_size: int = 15, tsv: pd.DataFrame | None = None) -> None:
        """An interactive table (sort, filter, pages) and ``tables/<name>.tsv``.

        ``tsv`` is what goes into the file when it differs from what is shown (e.g. the
        full taxonomy strings rather than short names). A table of more than
        ``MAX_TABLE_ROWS`` rows shows its first ``MAX_TABLE_ROWS`` (in the table's own order,
        e.g. by q-value) and says so in its caption; the file has every row.
        """
        name = slug(name)
        shown = df.reset_index() if index else df
        full = tsv if tsv is not None else shown
        full.to_csv(self.out_dir / "tables" / f"{name}.tsv", sep="\t", index=False)
        self.table_files.append(f"tables/{name}.tsv")
        self.n_tables += 1
        tid = f"t{self.n_tables}"
        if len(shown) > MAX_TABLE_ROWS:
            caption = (f"{caption} The first {MAX_TABLE_ROWS:,} of {len(shown):,} rows are shown; "
                       "every row is in the file.").strip()
            shown = shown.iloc[:MAX_TABLE_ROWS]
        data = {"columns": [str(c) for c in shown.columns], "values": _columns(shown),
                "pageSize": page_size}
        cap = f"<p class='caption'>{esc(caption)} <span class='file'>tables/{esc(name)}.tsv</span></p>"
        self.raw(f"{cap}<div class='mt-table' data-src='{tid}'></div>"
                 f"<script type='application/json' id='{tid}'>{script_json(data)}</script>")

    # -- figures --------------------------------------------------------------------------
    def figure(self, name: str, interactive: Any | None, static: Callable[[], Any] | None,
               *, caption: str = "", small: bool = False) -> None:
        """Embed a plotly figure and save the matplotlib one as SVG, PDF and PNG (300 dpi).

        ``static`` is called (and its figure closed) here, so a failing static drawing is
        logged and leaves the interactive one in place. ``small`` figures sit three to a row.
        """
        name = slug(name)
        if not self.static:
            static = None
        if static is not None:
            self._save_static(name, static)
        parts = []
        if interactive is not None:
            self.n_plots += 1
            pid = f"p{self.n_plots}"
            margin = {"r": 20} if interactive.layout.margin.t is not None else {"t": 60, "r": 20}
            interactive.update_layout(template="simple_white", font={"family": _FONT, "size": 12},
                                      margin=margin)
            if small:
                interactive.update_layout(title_font_size=14, margin={"l": 50, "r": 10})
            spec = interactive.to_json()
            parts.append(f"<div class='plot' data-src='{pid}' role='img' aria-label='{esc(name)}'></div>"
                         f"<script type='application/json' id='{pid}'>{script_json(spec)}</script>")
        files = " ".join(f"figures/{esc(name)}.{ext}" for ext in STATIC_FORMATS) if static else ""
        if caption or files:
            parts.append(f"<figcaption class='caption'>{esc(caption)} <span class='file'>{files}</span>"
                         "</figcaption>")
        self.raw(f"<figure class='fig{' small' if small else ''}'>{''.join(parts)}</figure>")

    def _save_static(self, name: str, static: Callable[[], Any]) -> None:
        import matplotlib.pyplot as plt

        try:
            fig = static()
        except Exception as exc:  # noqa: BLE001 - a static copy must not sink the page
            log.warning("static figure %s failed: %s", name, exc)
            return
        try:
            for ext in STATIC_FORMATS:
                fig.savefig(self.out_dir / "figures" / f"{name}.{ext}", dpi=PNG_DPI,
                            metadata=_NO_DATE.get(ext))
                self.figure_files.append(f"figures/{name}.{ext}")
        finally:
            plt.close(fig)

    # -- the page -------------------------------------------------------------------------
    def html(self, title: str, subtitle: str, banner: str = "") -> str:
        from plotly.offline import get_plotlyjs

        nav = "".join(f"<a href='#{s.anchor}'>{esc(s.title)}</a>" for s in self.sections)
        body = "".join(
            f"<section id='{s.anchor}'><h2>{esc(s.title)}</h2>{''.join(s.parts)}</section>"
            for s in self.sections
        )
        plotly_js = get_plotlyjs() if self.n_plots else ""
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
            f"<nav id='nav'><div class='brand'>{esc(title)}</div>{nav}</nav>"
            f"<main><header><h1>{esc(title)}</h1><p class='note'>{esc(subtitle)}</p>{banner}</header>"
            f"{body}</main>"
            f"<script>{_JS_TABLES}</script><script>{plotly_js}</script><script>{_JS_PLOTS}</script>"
            "</body></html>"
        )


_NO_DATE: dict[str, dict[str, Any]] = {"svg": {"Date": None}, "pdf": {"CreationDate": None},
                                       "png": {}}
_FONT = "DejaVu Sans, Arial, sans-serif"

_CSS = """
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#222;
line-height:1.45;background:#fff}
nav{position:fixed;top:0;left:0;bottom:0;width:210px;overflow-y:auto;background:#f4f6f8;border-right:1px solid #dde;
padding:12px 10px;font-size:13px}
nav .brand{font-weight:600;margin-bottom:10px;color:#0b4f79}
nav a{display:block;padding:4px 6px;color:#1b4d6e;text-decoration:none;border-radius:4px}
nav a:hover{background:#e1e8ef}
main{margin-left:230px;max-width:1150px;padding:0 24px 60px}
h1{border-bottom:3px solid #0072B2;padding-bottom:.3em;margin-top:.8em}
h2{margin-top:2.2em;color:#0b4f79;border-bottom:1px solid #dde;padding-bottom:.2em}
h3{margin-top:1.5em;color:#333}
section{scroll-margin-top:10px}
.note{color:#555;font-size:14px}.missing{color:#a33;font-size:14px}
.caption{color:#555;font-size:12.5px;margin:.2em 0 1em}.file{color:#888;font-family:monospace;font-size:11px}
.summary li{margin:.35em 0}.caveat{color:#8a5a00}
.methods{background:#fafafa;border:1px solid #e3e3e3;padding:10px 14px;font-size:14px}
figure.fig{margin:0 0 1em}figure.small{display:inline-block;width:32%;vertical-align:top;margin-right:1%}
.plot{width:100%;min-height:360px}
.mt-table{margin:.4em 0 .2em;overflow-x:auto}
.mt-table table{border-collapse:collapse;font-size:12.5px;width:100%}
.mt-table th,.mt-table td{border-bottom:1px solid #e4e4e4;padding:4px 8px;text-align:left;vertical-align:top}
.mt-table td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.mt-table th{background:#eef3f8;cursor:pointer;user-select:none;white-space:nowrap;position:sticky;top:0}
.mt-table th[aria-sort=ascending]::after{content:" \\25B2"}.mt-table th[aria-sort=descending]::after{content:" \\25BC"}
.mt-tools{display:flex;gap:10px;align-items:center;font-size:12.5px;margin-bottom:4px}
.mt-tools input{padding:3px 6px;border:1px solid #bbb;border-radius:4px;width:220px}
.mt-tools button{padding:2px 8px}
@media print{nav{display:none}main{margin-left:0}}
"""

# Tables: data from a JSON block; every cell set with textContent (never innerHTML). They are
# set up before plotly.js is parsed, so the page is usable at once.
_JS_TABLES = r"""
(function(){
function fmt(v){if(v===null||v===undefined)return "";if(typeof v==="number"){
 if(Number.isInteger(v))return v.toLocaleString("en-US").replace(/,/g,"\u2009");
 var a=Math.abs(v);if(a!==0&&(a<1e-3||a>=1e6))return v.toExponential(2);return String(Number(v.toPrecision(4)));}
 return String(v);}
function cmp(a,b){if(a===b)return 0;if(a===null||a==="")return 1;if(b===null||b==="")return -1;
 if(typeof a==="number"&&typeof b==="number")return a-b;return String(a).localeCompare(String(b),undefined,{numeric:true});}
function mkTable(host){
 var spec=JSON.parse(document.getElementById(host.dataset.src).textContent);
 var cols=spec.values,n=cols.length?(cols[0].v||cols[0].i).length:0,rows=[];
 for(var r=0;r<n;r++){var row=[];for(var c=0;c<cols.length;c++){var k=cols[c];row.push(k.v?k.v[r]:k.d[k.i[r]]);}rows.push(row);}
 var view=rows,page=0,size=spec.pageSize||15,sortCol=-1,dir=1;
 var tools=document.createElement("div");tools.className="mt-tools";
 var filt=document.createElement("input");filt.type="search";filt.placeholder="Filter rows\u2026";
 filt.setAttribute("aria-label","filter rows");
 var prev=document.createElement("button");prev.textContent="\u2039 prev";
 var next=document.createElement("button");next.textContent="next \u203a";
 var info=document.createElement("span");info.className="mt-info";
 tools.append(filt,prev,next,info);
 var table=document.createElement("table"),thead=table.createTHead(),tbody=table.createTBody();
 var hr=thead.insertRow();
 spec.columns.forEach(function(c,i){var th=document.createElement("th");th.textContent=c;th.scope="col";
  th.addEventListener("click",function(){dir=(sortCol===i)?-dir:1;sortCol=i;
   hr.querySelectorAll("th").forEach(function(h){h.removeAttribute("aria-sort");});
   th.setAttribute("aria-sort",dir>0?"ascending":"descending");
   view.sort(function(a,b){return dir*cmp(a[i],b[i]);});page=0;draw();});hr.appendChild(th);});
 function draw(){tbody.textContent="";var n=view.length,pages=Math.max(1,Math.ceil(n/size));
  if(page>=pages)page=pages-1;var s=page*size,e=Math.min(n,s+size);
  for(var r=s;r<e;r++){var tr=tbody.insertRow();view[r].forEach(function(v){var td=tr.insertCell();
   td.textContent=fmt(v);if(typeof v==="number"){td.className="num";td.title=String(v);}});}
  info.textContent=n?("rows "+(s+1)+"\u2013"+e+" of "+n+(n<rows.length?" (filtered from "+rows.length+")":"")):"no rows";
  prev.disabled=page===0;next.disabled=page>=pages-1;}
 filt.addEventListener("input",function(){var q=filt.value.toLowerCase();
  view=rows.filter(function(r){return r.some(function(v){return fmt(v).toLowerCase().indexOf(q)>=0;});});
  if(sortCol>=0)view.sort(function(a,b){return dir*cmp(a[sortCol],b[sortCol]);});page=0;draw();});
 prev.addEventListener("click",function(){page--;draw();});next.addEventListener("click",function(){page++;draw();});
 host.append(tools,table);draw();}
document.querySelectorAll(".mt-table").forEach(mkTable);
document.body.dataset.tablesReady=String(Math.round(performance.now()));
})();
"""
_JS_PLOTS = r"""
(function(){
// figures are drawn when they come near the screen (the page is usable at once)
function draw(el){if(el.dataset.drawn||!window.Plotly)return;el.dataset.drawn="1";
 var spec=JSON.parse(document.getElementById(el.dataset.src).textContent);
 var cfg={responsive:true,displaylogo:false,toImageButtonOptions:{format:"svg"}};
 Plotly.newPlot(el,spec.data,spec.layout,cfg).then(function(){el.dataset.rendered="1";});}
var plots=[].slice.call(document.querySelectorAll(".plot"));
if("IntersectionObserver" in window){
 var io=new IntersectionObserver(function(es){es.forEach(function(e){if(e.isIntersecting){io.unobserve(e.target);draw(e.target);}});},
  {rootMargin:"800px 0px"});
 plots.forEach(function(el){io.observe(el);});
}else{plots.forEach(draw);}
window.microtrialDrawAll=function(){plots.forEach(draw);};
document.body.dataset.ready="1";
})();
"""
