import { App } from "./app.ts";
import { fill } from "./dom.ts";
import { forgetUser, rememberedUser, requestToken, signInForm } from "./signin.ts";

// The page: the sign-in form, or the chat of the user this browser signed in as last.
const root = document.getElementById("app")!;

function showSignIn(): void {
  fill(root, signInForm(start));
  root.querySelector<HTMLInputElement>("input")?.focus();
}

function start(user: string, token: string): void {
  const app = new App(root, user, token, () => {
    app.stop();
    forgetUser();
    history.replaceState(null, "", location.pathname);
    showSignIn();
  });
  app.start();
}

const user = rememberedUser();
if (user) requestToken(user).then((token) => start(user, token), showSignIn);
else showSignIn();
