// Typesets the maths in the learner's markdown with the KaTeX copied beside
// this file: no network, so a page opened from disk renders $x^2$ and $$\frac{a}{b}$$.
// The page's Content-Security-Policy lets only the files of this folder run.
document.addEventListener("DOMContentLoaded", function () {
  var root = document.documentElement;
  if (typeof renderMathInElement !== "function") {
    root.setAttribute("data-maths", "unavailable");
    return;
  }
  var options = {
    delimiters: [
      {left: "$$", right: "$$", display: true},
      {left: "\\[", right: "\\]", display: true},
      {left: "\\(", right: "\\)", display: false},
      {left: "$", right: "$", display: false}
    ],
    throwOnError: false,  // bad TeX shows in red instead of stopping the page
    trust: false,         // no \href, \htmlClass, ...: learner TeX makes no links or markup
    strict: "ignore",
    maxSize: 20,          // em: a learner cannot draw a page-sized bracket
    maxExpand: 500        // macro expansions: a learner cannot hang the browser
  };
  var blocks = document.querySelectorAll(".mgl-markdown");
  for (var i = 0; i < blocks.length; i++) {
    try { renderMathInElement(blocks[i], options); } catch (e) { /* keep the TeX as text */ }
  }
  root.setAttribute("data-maths", "rendered");
});
