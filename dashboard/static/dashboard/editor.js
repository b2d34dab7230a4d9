// The workflow editor's copy buttons: <button data-copy="ID"> copies the value of the field ID.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  const status = button.parentElement.querySelector(".copy-status");
  navigator.clipboard.writeText(field.value).then(
    () => { status.textContent = "Copied."; },
    () => { field.select(); status.textContent = "Selected: press Ctrl+C to copy."; },
  );
});
