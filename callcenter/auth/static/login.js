// Posts the login form and goes where the user was heading (?next=), or to their home page.
const form = document.getElementById("login");
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const data = Object.fromEntries(new FormData(form).entries());
  const res = await fetch("/api/v1/auth/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) { document.getElementById("error").textContent = body.error?.message || `login failed (${res.status})`; return; }
  const next = new URLSearchParams(location.search).get("next");
  const home = body.user.role === "agent" ? "/desk" : "/wallboard";
  location.href = next && next.startsWith("/") && !next.startsWith("//") ? next : home;
});
