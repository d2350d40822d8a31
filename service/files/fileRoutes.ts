/**
 * The routes of files (docs/API.md "Files"): POST /files (a whole upload), PUT /files/<sha256> (a
 * resumable one, part by part), GET and HEAD /files/<sha256> (a download, whole or a range), and the rule
 * for attaching files to a post. Every answer about a file says in Upload-Offset how many of its bytes
 * the bus holds from this credential, so a broken upload resumes from there.
 */
import type { Request, Response } from "express";
import { DownloadQuerySchema, SHA256_PATTERN, UPLOAD_OFFSET_HEADER, UploadQuerySchema } from "../../contract/files";
import type { Attachment, NewMessage } from "../../contract/message";
import { TEAM_UPLOADER } from "../../contract/names";
import { authorize, type Identity } from "../members/access";
import { identityOf } from "../members/authenticate";
import { acceptBody, allowLongBody } from "../http/connections";
import { sendStoredFile } from "./download";
import { partRange } from "./fileHeaders";
import type { FileStore, UploadResult } from "./fileStore";
import { HttpError } from "../http/httpErrors";
import { parseQuery, sendJson } from "../http/json";
import type { Routes } from "../http/routes";
import type { Log } from "../log";
import { UploadInterrupted } from "./upload";

/** Whose upload a file is: the machine's name, or the team's. */
export const uploaderOf = (identity: Identity): string => (identity.kind === "machine" ? identity.name : TEAM_UPLOADER);

function shaParam(value: unknown): string {
  if (typeof value !== "string" || !SHA256_PATTERN.test(value))
    throw new HttpError("badRequest", `${JSON.stringify(value)} in the path: must be a sha256, 64 lowercase hex digits`);
  return value;
}

function contentLength(req: Request): number | undefined {
  const header = req.headers["content-length"];
  return header === undefined ? undefined : Number(header);
}

/**
 * The attachments a post names, as its message carries them: each must be a stored file, and with a
 * machine credential one that machine uploaded; otherwise a 400 that names the attachment and its file.
 */
export function checkAttachments(files: FileStore, refs: NonNullable<NewMessage["attachments"]>, identity: Identity): Attachment[] {
  return refs.map(({ sha256, name }, i) => {
    const record = files.get(sha256);
    const which = `attachments[${i}]: the file with sha256 ${sha256}`;
    if (!record) {
      if (files.isGone(sha256)) throw new HttpError("badRequest", `${which} is gone (it expired); upload it again`);
      throw new HttpError("badRequest", `${which} is not stored; upload it first (POST /files)`);
    }
    if (identity.kind === "machine" && !record.by.has(identity.name)) {
      throw new HttpError(
        "badRequest",
        `${which} was not uploaded by "${identity.name}"; a machine attaches only files it uploaded (upload it too: its bytes are stored once)`,
      );
    }
    return { sha256, name, size: record.size };
  });
}

export function addFileRoutes(routes: Routes, files: FileStore, log: Log): void {
  /** Answers an upload, or what stopped it: a client that went away gets no answer. */
  const upload = async (req: Request, res: Response, receive: (uploader: string) => Promise<UploadResult>, sha256?: string) => {
    const identity = identityOf(res);
    allowLongBody(req);
    let result: UploadResult;
    try {
      result = await receive(uploaderOf(identity));
    } catch (error) {
      if (error instanceof UploadInterrupted) {
        log({ level: "info", msg: "upload interrupted", error: error.message });
        return void res.destroy();
      }
      // The rest of the body is not read: the connection cannot carry another request.
      if (!req.complete) res.setHeader("Connection", "close");
      if (sha256) res.setHeader(UPLOAD_OFFSET_HEADER, String(files.offsetFor(sha256, uploaderOf(identity))));
      throw error;
    }
    if ("progress" in result) {
      res.setHeader(UPLOAD_OFFSET_HEADER, String(result.progress.offset));
      return sendJson(res, 202, result.progress);
    }
    if (sha256) res.setHeader(UPLOAD_OFFSET_HEADER, String(result.file.size));
    if (!req.complete) res.setHeader("Connection", "close");
    sendJson(res, result.created ? 201 : 200, result.file);
  };

  routes.post("/files", async (req, res) => {
    authorize(identityOf(res), "upload");
    const { name } = parseQuery(UploadQuerySchema, req.query);
    await upload(req, res, (uploader) => files.uploadWhole(req, uploader, name, contentLength(req), () => acceptBody(req, res)));
  });

  routes.put("/files/:sha256", async (req, res) => {
    authorize(identityOf(res), "upload");
    const sha256 = shaParam(req.params.sha256);
    const { name } = parseQuery(UploadQuerySchema, req.query);
    const rangeHeader = req.header("Content-Range");
    const range = rangeHeader === undefined ? null : partRange(rangeHeader);
    await upload(req, res, (uploader) => files.uploadPart(req, sha256, uploader, name, range, contentLength(req), () => acceptBody(req, res)), sha256);
  });

  routes.get("/files/:sha256", async (req, res) => {
    const identity = identityOf(res);
    authorize(identity, "download");
    const sha256 = shaParam(req.params.sha256);
    const query = parseQuery(DownloadQuerySchema, req.query);
    res.setHeader(UPLOAD_OFFSET_HEADER, String(files.offsetFor(sha256, uploaderOf(identity))));
    const record = files.get(sha256);
    const gone = () =>
      new HttpError(
        "gone",
        `the file with sha256 ${sha256} is gone: files are kept ${files.maxAgeDays} days after their last upload and after the newest message that attaches them`,
      );
    if (!record) throw files.isGone(sha256) ? gone() : new HttpError("notFound", `no file with sha256 ${sha256} is stored`);
    try {
      await sendStoredFile(req, res, files.pathOf(sha256), sha256, query.name ?? record.name);
    } catch (error) {
      // Deleted between the lookup and the open.
      if ((error as NodeJS.ErrnoException).code === "ENOENT" && !res.headersSent) throw gone();
      throw error;
    }
  });
}
