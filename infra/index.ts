/** Pulumi program entry (Pulumi.yaml `main`): its resolved value becomes the stack outputs. */
import { readStackConfig } from "./config";
import { claudeBusStack } from "./program";

export = () => claudeBusStack(readStackConfig());
