// Digest sign-up: the time zone starts at the browser's own, which the server cannot know.
// Only a field marked data-browser-timezone (a fresh sign-up) is changed, and only while it
// still holds the server's default: a value the reader typed or chose is never replaced.
document.addEventListener("DOMContentLoaded", () => {
  let zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return;
  }
  if (!zone) return;
  for (const input of document.querySelectorAll("input[data-browser-timezone]")) {
    const known = !input.list || [...input.list.options].some((o) => o.value === zone);
    if (known && input.value === input.defaultValue) input.value = zone;
  }
});
