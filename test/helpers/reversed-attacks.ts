// `node --import …/reversed-attacks.js script.js`: runs the script with the attack
// catalogue in reverse order (see reversed-attacks-hook.ts).
import { register } from 'node:module';

register('./reversed-attacks-hook.js', import.meta.url);
