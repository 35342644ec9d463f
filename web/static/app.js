// mailkeep's pages work without this file. It adds one key: "/" puts the
// cursor in the search box.
document.addEventListener('keydown', function (event) {
  var box = document.getElementById('q');
  if (!box || event.key !== '/' || event.target === box || event.ctrlKey || event.metaKey || event.altKey) return;
  var tag = event.target && event.target.tagName;
  if (tag === 'INPUT' || tag === 'TEXTAREA') return;
  event.preventDefault();
  box.focus();
});
