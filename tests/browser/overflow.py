"""What sticks out of a page sideways, as a script for the browser: shared by the
narrow-screen tests and scripts/look.py."""

# Elements that stick out to the right of the viewport (for the failure message), leaving out
# the insides of a wide table's own scrolling region (unless positioned: they may escape it).
OVERFLOWING = """() => {
  const width = window.innerWidth;
  const found = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    const inside = el.parentElement && el.parentElement.closest('.table-scroll');
    const escapes = ['absolute', 'fixed'].includes(getComputedStyle(el).position);
    if (box.width && box.right > width + 0.5 && (!inside || escapes)) {
      const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
        + (el.className && typeof el.className === 'string'
           ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
      found.push(name + ' ' + Math.round(box.right));
    }
  }
  return found.slice(0, 8);
}"""
