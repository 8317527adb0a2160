// Posts the login form and goes where the user was heading (?next=, same-site paths only),
// or to their home page. The page speaks the browser's language (or the one picked here);
// the server's refusals are shown in it by their status.
import { languagePicker, render, setup } from "/static/i18n/i18n.js";

const form = document.getElementById("login");
const error = document.getElementById("error");
const button = form.querySelector("button");

function destination(user) {
  const next = new URLSearchParams(location.search).get("next");
  const home = user.role === "agent" ? "/desk" : "/wallboard";
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : home;
}

function refused(res) {
  if (res.status === 401) return render(error, "login.error.wrong_credentials");
  if (res.status === 429) {
    const seconds = Number(res.headers.get("Retry-After")) || 1;
    return render(error, "login.error.throttled", { seconds });
  }
  return render(error, "login.error.failed", { status: res.status });
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  delete error.dataset.i18n;
  error.textContent = "";
  button.disabled = true;
  try {
    const data = Object.fromEntries(new FormData(form).entries());
    const res = await fetch("/api/v1/auth/login", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      console.warn(`login: ${res.status} ${body.error?.message || ""}`);
      refused(res);
      return;
    }
    location.href = destination(body.user);
  } catch (exc) {
    console.warn(`login: ${exc.message}`);
    render(error, "login.error.unreachable");
  } finally {
    button.disabled = false;
  }
});

try { // after the form's handler is in place: a quick submit never goes unhandled
  await setup({ remember: true });
  languagePicker(document.getElementById("language"));
} catch (exc) { // the page still works, in the words its HTML carries
  console.warn(`login: no catalogue (${exc.message})`);
  document.getElementById("language").classList.add("hidden");
}
