// Posts the login form and goes where the user was heading (?next=, same-site paths only),
// or to their home page. Errors from the server (wrong password, 429 with its wait) are shown as sent.
const form = document.getElementById("login");
const error = document.getElementById("error");
const button = form.querySelector("button");

function destination(user) {
  const next = new URLSearchParams(location.search).get("next");
  const home = user.role === "agent" ? "/desk" : "/wallboard";
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : home;
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error.textContent = "";
  button.disabled = true;
  try {
    const data = Object.fromEntries(new FormData(form).entries());
    const res = await fetch("/api/v1/auth/login", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      error.textContent = body.error?.message || `login failed (${res.status})`;
      return;
    }
    location.href = destination(body.user);
  } catch (exc) {
    error.textContent = `cannot reach the server (${exc.message})`;
  } finally {
    button.disabled = false;
  }
});
