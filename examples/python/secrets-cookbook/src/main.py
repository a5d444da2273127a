"""seeds/000 (Dagger's secrets cookbook), ported to hush.

Changed from the seed: the imports; the image (`busybox` for `alpine:3.17`, so no
`platform=` either, which the hush API does not have); the network calls (no internet here):
`apk add ...` becomes a check for the local tool, the GitHub API `curl` and `gh auth status`
become local commands that use the secret the same way.
"""

from typing import Annotated

import hush
from hush import Doc, dag, function, object_type


@object_type
class MyModule:
    @function
    async def github_api(
        self,
        token: Annotated[hush.Secret, Doc("GitHub API token")],
    ) -> str:
        """Query the GitHub API"""
        return await (
            dag.container()
            .from_("busybox")
            .with_secret_variable("GITHUB_API_TOKEN", token)
            .with_exec(["which", "wget"])
            .with_exec(
                [
                    "sh",
                    "-c",
                    (
                        'echo "GET /repos/dagger/dagger/issues"'
                        ' "Authorization: Bearer $GITHUB_API_TOKEN"'
                        ' "Accept: application/vnd.github+json"'
                    ),
                ]
            )
            .stdout()
        )

    @function
    async def github_auth(
        self,
        gh_creds: Annotated[hush.Secret, Doc("GitHub Hosts configuration file")],
    ) -> str:
        """Query the GitHub API"""
        return await (
            dag.container()
            .from_("busybox")
            .with_exec(["which", "wc"])
            .with_mounted_secret("/root/.config/gh/hosts.yml", gh_creds)
            .with_workdir("/root")
            .with_exec(
                ["sh", "-c", "wc -c < .config/gh/hosts.yml; cat .config/gh/hosts.yml"]
            )
            .stdout()
        )
