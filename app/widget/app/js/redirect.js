// A classic script (not a module) so it runs before anything renders. The folder path is worked
// out from the address because /widget and /widget/index.html resolve relative links differently.
(function () {
  var path = location.pathname.replace(/index\.html$/, "");
  if (path.charAt(path.length - 1) !== "/") path += "/";
  location.replace(path + "app/widget.html" + location.search + location.hash);
})();
