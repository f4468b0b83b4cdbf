"""A user of the official Vers Python SDK (PyPI `vers-sdk` 1.20.0) against `tether sim`.

Run by `vers_sdk.rs` with VERS_BASE_URL, VERS_API_KEY (the first account) and VERS_OTHER_KEY
(a key of another organisation). Every call the SDK offers that the simulator serves is made
the way a user would, and replies are checked against the SDK's own models. Prints one line
per operation and `ok <n> operations` at the end; any failure raises.
"""

import asyncio
import base64
import dataclasses
import os
import typing

from vers_sdk import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    VersSdkClient,
)
from vers_sdk import models

UNKNOWN = "00000000-0000-4000-8000-000000000000"
DONE = []


def fits(value, model):
    """Asserts `value` (the SDK returns plain JSON) has every required field of `model`."""
    assert isinstance(value, dict), f"{model.__name__}: {value!r}"
    hints = typing.get_type_hints(model)
    for field in dataclasses.fields(model):
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        if required:
            assert field.name in value, f"{model.__name__} lacks {field.name}: {value!r}"
        if field.name in value and dataclasses.is_dataclass(hints.get(field.name)):
            fits(value[field.name], hints[field.name])
    return value


def done(name):
    DONE.append(name)
    print(name, flush=True)


async def refuses(error, call, *hint):
    """Asserts `call` raises the SDK's `error` class with a message containing each of `hint`."""
    try:
        await call
    except error as err:
        for part in hint:
            assert part in err.error_message, f"{err.error_message!r} lacks {part!r}"
        return err
    raise AssertionError(f"expected {error.__name__}")


async def exec_out(vm, client, script):
    reply = fits(await client.exec_vm(vm, {"command": ["sh", "-c", script]}), models.VmExecResponse)
    assert reply["exit_code"] == 0, reply
    return reply["stdout"]


async def new_vm(client, **config):
    params = models.CreateNewRootVmParams(wait_boot=True)
    reply = await client.create_new_root_vm({"vm_config": config}, params=params)
    return fits(reply, models.NewVmResponse)["vm_id"]


async def account(client, other):
    me = fits(await client.whoami_handler(), models.WhoamiResponse)
    them = fits(await other.whoami_handler(), models.WhoamiResponse)
    assert me["org"]["name"] != them["org"]["name"]
    done("whoami_handler")
    fits(await client.version_handler(), models.OrchestratorVersion)
    done("version_handler")
    assert fits(await client.validate_key(), models.ValidateKeyResponse)["valid"] is True
    done("validate_key")
    await refuses(AuthenticationError, VersSdkClient(os.environ["VERS_BASE_URL"], "wrong").list_vms())
    done("wrong key -> AuthenticationError")
    images = fits(await client.list_images(), models.ListBaseImagesResponse)
    assert [i["image_name"] for i in images["images"]] == ["default"]
    done("list_images")
    fits(await client.get_image_status("default"), models.BaseImageStatusResponse)
    done("get_image_status")
    await refuses(BadRequestError, client.create_image({"image_name": "x", "source": {"image_ref": "x"}}))
    done("create_image -> BadRequestError (one image only)")
    return me["org"]["name"]


async def vms_and_labels(client, other):
    vm = await new_vm(client, labels={"team": "a"})
    done("create_new_root_vm")
    listed = {v["vm_id"]: v for v in await client.list_vms()}
    fits(listed[vm], models.VM)
    assert listed[vm]["labels"] == {"team": "a"}, listed[vm]
    done("list_vms")
    assert vm not in {v["vm_id"] for v in await other.list_vms()}
    fits(await client.vm_status(vm), models.VM)
    done("vm_status")
    await refuses(NotFoundError, client.vm_status(UNKNOWN), "list VMs")
    done("unknown id -> NotFoundError")
    meta = fits(await client.get_vm_metadata(vm), models.VmMetadataResponse)
    assert meta["vm_id"] == vm
    done("get_vm_metadata")
    assert "PRIVATE KEY" in fits(await client.ssh_key(vm), models.VmSshKeyResponse)["ssh_private_key"]
    done("ssh_key")
    await client.upsert_vm_labels(vm, {"labels": {"role": "web"}})
    assert (await client.vm_status(vm))["labels"] == {"team": "a", "role": "web"}
    done("upsert_vm_labels")
    await client.replace_vm_labels(vm, {"labels": {"only": "x", "gone": "y"}})
    assert (await client.vm_status(vm))["labels"] == {"only": "x", "gone": "y"}
    done("replace_vm_labels")
    await client.delete_vm_label(vm, "gone")
    assert (await client.vm_status(vm))["labels"] == {"only": "x"}
    done("delete_vm_label")
    return vm


async def exec_files_logs(client, vm):
    assert await exec_out(vm, client, "echo hi; echo err >&2") == "hi\n"
    done("exec_vm")
    content = base64.b64encode(b"\x00binary\xff").decode()
    await client.write_file_vm(vm, {"path": "/root/f.bin", "content_b64": content})
    done("write_file_vm")
    read = fits(await client.read_file_vm(vm, models.ReadFileVmParams(path="/root/f.bin")), models.VmReadFileResponse)
    assert read["content_b64"] == content
    done("read_file_vm")
    logs = fits(await client.vm_logs(vm), models.VmExecLogResponse)
    for entry in logs["entries"]:
        fits(entry, models.VmExecLogEntry)
    texts = [(e["stream"], base64.b64decode(e["data_b64"])) for e in logs["entries"]]
    assert ("stdout", b"hi\n") in texts and ("stderr", b"err\n") in texts, texts
    done("vm_logs")
    stderr = await client.vm_logs(vm, models.VmLogsParams(stream="stderr"))
    assert {e["stream"] for e in stderr["entries"]} == {"stderr"}
    # The SDK reads an exec stream as one JSON document, so only its errors come through it.
    await refuses(NotFoundError, client.exec_vm_stream_attach(vm, {"exec_id": UNKNOWN}), "exec/stream")
    done("exec_vm_stream_attach unknown exec -> NotFoundError")
    await refuses(NotFoundError, client.exec_vm_stream(UNKNOWN, {"command": ["true"]}))
    done("exec_vm_stream unknown VM -> NotFoundError")
    await client.resize_vm_disk(vm, {"fs_size_mib": 4096})
    done("resize_vm_disk")
    await refuses(BadRequestError, client.resize_vm_disk(vm, {"fs_size_mib": 1024}), "4096")
    done("resize_vm_disk shrink -> BadRequestError")
    await client.update_vm_state(vm, {"state": "Paused"})
    assert (await client.vm_status(vm))["state"] == "paused"
    await client.update_vm_state(vm, {"state": "Running"})
    assert (await client.vm_status(vm))["state"] == "running"
    done("update_vm_state")


async def env_vars(client, vm):
    set_ = fits(await client.set_env_vars({"vars": {"GREETING": "hello"}}), models.EnvVarsResponse)
    assert set_["vars"]["GREETING"] == "hello"
    done("set_env_vars")
    assert fits(await client.list_env_vars(), models.EnvVarsResponse)["vars"] == {"GREETING": "hello"}
    done("list_env_vars")
    fresh = await new_vm(client)
    assert await exec_out(fresh, client, 'echo "$GREETING"') == "hello\n"
    assert await exec_out(vm, client, 'echo "${GREETING-unset}"') == "unset\n"
    await client.delete_env_var("GREETING")
    assert (await client.list_env_vars())["vars"] == {}
    done("delete_env_var")
    await client.delete_vm(fresh)


async def commits_and_tags(client, vm):
    first = fits(await client.commit_vm(vm, {}), models.VmCommitResponse)["commit_id"]
    await exec_out(vm, client, "echo two > /root/state")
    second = (await client.commit_vm(vm, {"name": "second"}))["commit_id"]
    done("commit_vm")
    listed = fits(await client.list_commits(), models.ListCommitsResponse)
    assert {first, second} <= {c["commit_id"] for c in listed["commits"]}
    done("list_commits")
    info = fits(await client.update_commit(first, {"is_public": True, "name": "base"}), models.CommitInfo)
    assert (info["name"], info["is_public"]) == ("base", True)
    done("update_commit")
    public = await client.list_public_commits()
    assert first in {c["commit_id"] for c in public["commits"]}
    done("list_public_commits")
    parents = await client.list_parent_commits(second)
    for parent in parents:
        fits(parent, models.VmCommitEntity)
    done("list_parent_commits")

    fits(await client.create_tag({"tag_name": "good", "commit_id": first}), models.CreateTagResponse)
    done("create_tag")
    await refuses(ConflictError, client.create_tag({"tag_name": "good", "commit_id": second}), "good")
    done("duplicate tag -> ConflictError")
    assert fits(await client.get_tag("good"), models.TagInfo)["commit_id"] == first
    done("get_tag")
    assert "good" in {t["tag_name"] for t in fits(await client.list_tags(), models.ListTagsResponse)["tags"]}
    done("list_tags")
    await client.update_tag("good", {"commit_id": second})
    assert (await client.get_tag("good"))["commit_id"] == second
    done("update_tag")
    child = fits(await client.branch_by_tag("good"), models.NewVmsResponse)["vms"][0]["vm_id"]
    assert await exec_out(child, client, "cat /root/state") == "two\n"
    done("branch_by_tag")
    restored = fits(await client.restore_from_commit({"tag_name": "good"}), models.NewVmResponse)["vm_id"]
    done("restore_from_commit tag_name")
    await refuses(NotFoundError, client.get_tag("missing"), "commit_tags")
    done("unknown tag -> NotFoundError")
    await client.delete_tag("good")
    done("delete_tag")
    for other_vm in (child, restored):
        await client.delete_vm(other_vm)
    return first, second


async def repositories(client, other, org, commit):
    fits(await client.create_repository({"name": "app"}), models.CreateRepositoryResponse)
    done("create_repository")
    fits(await client.create_repo_tag("app", {"tag_name": "v1", "commit_id": commit}), models.CreateRepoTagResponse)
    done("create_repo_tag")
    assert fits(await client.get_repo_tag("app", "v1"), models.RepoTagInfo)["commit_id"] == commit
    done("get_repo_tag")
    tags = fits(await client.list_repo_tags("app"), models.ListRepoTagsResponse)
    assert [t["tag_name"] for t in tags["tags"]] == ["v1"]
    done("list_repo_tags")
    await client.update_repo_tag("app", "v1", {"description": "first release"})
    done("update_repo_tag")
    repo = fits(await client.get_repository("app"), models.RepositoryInfo)
    assert repo["is_public"] is False
    done("get_repository")
    assert "app" in {r["name"] for r in fits(await client.list_repositories(), models.ListRepositoriesResponse)["repositories"]}
    done("list_repositories")
    vm = fits(await client.branch_by_ref("app", "v1"), models.NewVmsResponse)["vms"][0]["vm_id"]
    done("branch_by_ref")
    restored = (await client.restore_from_commit({"ref": "app:v1"}))["vm_id"]
    done("restore_from_commit ref")

    # Private: the other organisation sees nothing of it.
    await refuses(NotFoundError, other.get_public_repository(org, "app"))
    await refuses(NotFoundError, other.fork_repository({"source_org": org, "source_repo": "app", "source_tag": "v1"}))
    done("another key's private repository -> NotFoundError")
    await client.set_repository_visibility("app", {"is_public": True})
    done("set_repository_visibility")
    listed = fits(await other.list_public_repositories(), models.ListPublicRepositoriesResponse)
    assert f"{org}/app" in {r["full_name"] for r in listed["repositories"]}
    done("list_public_repositories")
    fits(await other.get_public_repository(org, "app"), models.PublicRepositoryInfo)
    done("get_public_repository")
    assert [t["tag_name"] for t in (await other.list_public_repo_tags(org, "app"))["tags"]] == ["v1"]
    done("list_public_repo_tags")
    fits(await other.get_public_repo_tag(org, "app", "v1"), models.RepoTagInfo)
    done("get_public_repo_tag")
    fork = fits(
        await other.fork_repository({"source_org": org, "source_repo": "app", "source_tag": "v1", "repo_name": "mine"}),
        models.ForkRepositoryResponse,
    )
    assert fork["reference"] == "mine:v1", fork
    assert "mine" in {r["name"] for r in (await other.list_repositories())["repositories"]}
    await other.delete_vm(fork["vm_id"])
    done("fork_repository")

    await client.delete_repo_tag("app", "v1")
    done("delete_repo_tag")
    await client.delete_repository("app")
    await refuses(NotFoundError, client.get_repository("app"))
    done("delete_repository")
    for each in (vm, restored):
        await client.delete_vm(each)


async def domains(client, vm):
    made = fits(await client.create_domain({"domain": "app.example.com", "vm_id": vm}), models.DomainResponse)
    done("create_domain")
    assert fits(await client.get_domain(made["domain_id"]), models.DomainResponse)["vm_id"] == vm
    done("get_domain")
    listed = await client.list_domains(models.ListDomainsParams(vm_id=vm))
    assert [d["domain"] for d in listed] == ["app.example.com"]
    done("list_domains")
    fits(await client.delete_domain(made["domain_id"]), models.DeleteDomainResponse)
    assert await client.list_domains() == []
    done("delete_domain")


async def branching(client, vm, commit):
    for name, call in [
        ("branch_vm", client.branch_vm(vm)),
        ("branch_by_vm", client.branch_by_vm(vm, params=models.BranchByVmParams(count=2))),
    ]:
        reply = fits(await call, models.NewVmsResponse)
        for child in reply["vms"]:
            await client.delete_vm(child["vm_id"])
        done(name)
    child = fits(await client.branch_by_commit(commit), models.NewVmsResponse)["vms"][0]["vm_id"]
    done("branch_by_commit")
    await refuses(ConflictError, client.delete_commit(commit), "VM")
    done("delete_commit in use -> ConflictError")
    fits(await client.delete_vm(child), models.VmDeleteResponse)
    done("delete_vm")
    await client.delete_commit(commit)
    done("delete_commit")
    await refuses(NotFoundError, client.vm_status(child))
    await client.delete_vm(vm)


async def main():
    url = os.environ["VERS_BASE_URL"]
    async with VersSdkClient(url, os.environ["VERS_API_KEY"], max_retries=0) as client, VersSdkClient(
        url, os.environ["VERS_OTHER_KEY"], max_retries=0
    ) as other:
        org = await account(client, other)
        vm = await vms_and_labels(client, other)
        await exec_files_logs(client, vm)
        await env_vars(client, vm)
        first, second = await commits_and_tags(client, vm)
        await repositories(client, other, org, first)
        await domains(client, vm)
        await branching(client, vm, second)
    print(f"ok {len(DONE)} operations", flush=True)


asyncio.run(main())
